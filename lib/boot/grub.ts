// GRUB defaults on Debian and Ubuntu: /etc/default/grub, then /etc/default/grub.d/*.cfg, sourced in that order by
// grub-mkconfig. GRUB_CMDLINE_LINUX goes on every menu entry's linux line (recovery too), GRUB_CMDLINE_LINUX_DEFAULT
// on the normal ones after it. Edits change only the crashkernel= words: quoting, comments and CRLF stay.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type CrashkernelArg, formatCrashkernel, parseCrashkernel, withCrashkernel } from "./crashkernel.ts";
import type { FileChange } from "./file_change.ts";
import { KdumpError } from "../errors.ts";
import { ConfigSyntaxError, lineColumn } from "./parse_error.ts";
import { type Assignment, parseShellAssignments, refersTo } from "./shell_assign.ts";

/** The main defaults file. */
export const GRUB_DEFAULTS = "/etc/default/grub";
/** Drop-ins sourced after it, in glob (C collation) order. */
export const GRUB_DROPINS = "/etc/default/grub.d";
/** The variable setup edits: it reaches every menu entry, recovery ones included. */
export const TARGET_VAR = "GRUB_CMDLINE_LINUX";
const VARS = ["GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT"];

/** A defaults file as read from the box. */
export interface GrubFile {
  /** Path on the box, e.g. /etc/default/grub.d/kdump-tools.cfg. */
  path: string;
  /** Its text. */
  text: string;
}

/** A crashkernel= word in a defaults file. */
export interface PlacedCrashkernel {
  /** The parsed value. */
  arg: CrashkernelArg;
  /** The file it is in. */
  path: string;
  /** 1-based line of the "c" of crashkernel=. */
  line: number;
  /** 1-based column of the "c" of crashkernel=. */
  column: number;
  /** The variable it is assigned to. */
  variable: string;
}

/** The defaults files under `root`, in the order grub-mkconfig sources them (an absent file is left out). */
export function readGrubDefaults(root = ""): GrubFile[] {
  const out: GrubFile[] = [];
  if (existsSync(join(root, GRUB_DEFAULTS))) out.push({ path: GRUB_DEFAULTS, text: readFileSync(join(root, GRUB_DEFAULTS), "utf8") });
  const dir = join(root, GRUB_DROPINS);
  if (existsSync(dir))
    for (const name of readdirSync(dir).filter((n) => n.endsWith(".cfg")).sort())
      out.push({ path: `${GRUB_DROPINS}/${name}`, text: readFileSync(join(dir, name), "utf8") });
  return out;
}

interface Found {
  file: GrubFile;
  a: Assignment;
}

function assignments(files: GrubFile[]): Found[] {
  return files.flatMap((file) => parseShellAssignments(file.text, file.path).filter((a) => VARS.includes(a.name)).map((a) => ({ file, a })));
}

function wordsIn(f: Found): PlacedCrashkernel[] {
  const { text, path } = f.file;
  const out: PlacedCrashkernel[] = [];
  for (const m of text.slice(f.a.valueStart, f.a.valueEnd).matchAll(/(?<=^|[\s"'])crashkernel=([^\s"'\\]*)/g)) {
    const at = f.a.valueStart + m.index!;
    const { line, column } = lineColumn(text, at);
    out.push({ arg: parseCrashkernel(m[1]!, { source: path, line, column: column + "crashkernel=".length }), path, line, column, variable: f.a.name });
  }
  return out;
}

/**
 * The crashkernel= words the defaults put on a normal menu entry's linux line, in that order (the kernel uses
 * the last): GRUB_CMDLINE_LINUX's, then GRUB_CMDLINE_LINUX_DEFAULT's. An assignment that does not expand the
 * variable itself starts it over. Malformed values throw ConfigSyntaxError with their file, line and column.
 */
export function grubCrashkernel(files: GrubFile[]): PlacedCrashkernel[] {
  const found = assignments(files);
  return VARS.flatMap((name) => {
    let words: PlacedCrashkernel[] = [];
    for (const f of found.filter((x) => x.a.name === name)) {
      if (!refersTo(f.a, name, f.file.text)) words = [];
      words.push(...wordsIn(f));
    }
    return words;
  });
}

/** The new source text of an assignment's value with its crashkernel= words replaced by `args`. */
function editedValue(f: Found, args: CrashkernelArg[]): string {
  const { a, file } = f;
  const source = file.text.slice(a.valueStart, a.valueEnd);
  const added = args.map((x) => `crashkernel=${formatCrashkernel(x)}`).join(" ");
  const segs = a.segments;
  if (segs.length === 0) return added ? `"${added}"` : source;
  if (segs.length === 1) {
    const s = segs[0]!;
    if (s.quote === "single") return `'${withCrashkernel(s.raw, args)}'`;
    if (s.quote === "double" || !s.raw.includes("\\")) return `"${withCrashkernel(s.raw, args)}"`;
  } else if (!source.includes("crashkernel=")) return added ? `${source}" ${added}"` : source;
  const { line, column } = lineColumn(file.text, a.valueStart);
  throw new ConfigSyntaxError(file.path, line, column, `${a.name}'s value mixes quoting in a way setup will not rewrite`, {
    hint: `write it as one double-quoted string, e.g. ${a.name}="quiet", and run again; nothing was changed`,
  });
}

function eolOf(text: string): string {
  return text.includes("\r\n") ? "\r\n" : "\n";
}

/**
 * The file changes that make the defaults pass exactly `args` as crashkernel= (an empty list removes it):
 * crashkernel= words leave every GRUB_CMDLINE_LINUX(_DEFAULT) assignment, and `args` go into the last
 * assignment of GRUB_CMDLINE_LINUX that does not just add to it (a new line in /etc/default/grub when there is none).
 */
export function planGrubDefaults(files: GrubFile[], args: CrashkernelArg[]): FileChange[] {
  const main = files.find((f) => f.path === GRUB_DEFAULTS);
  if (!main) throw new KdumpError(`${GRUB_DEFAULTS} not found`, { hint: "is GRUB installed? (apt-get install grub-pc or grub-efi-amd64)" });
  const found = assignments(files);
  for (const f of found) wordsIn(f); // a malformed value stops here, before anything is planned
  const target = args.length ? found.filter((f) => f.a.name === TARGET_VAR && !refersTo(f.a, TARGET_VAR, f.file.text)).at(-1) : undefined;
  const edits = new Map<GrubFile, { start: number; end: number; text: string }[]>();
  const edit = (file: GrubFile, start: number, end: number, text: string) => {
    if (file.text.slice(start, end) !== text) edits.set(file, [...(edits.get(file) ?? []), { start, end, text }]);
  };
  for (const f of found) {
    if (f === target) edit(f.file, f.a.valueStart, f.a.valueEnd, editedValue(f, args));
    else if (mentionsCrashkernel(f)) edit(f.file, f.a.valueStart, f.a.valueEnd, editedValue(f, []));
  }
  if (args.length && !target) {
    const eol = eolOf(main.text);
    const lineText = `${TARGET_VAR}="${args.map((x) => `crashkernel=${formatCrashkernel(x)}`).join(" ")}"`;
    const after = found.filter((f) => f.file === main && f.a.name === "GRUB_CMDLINE_LINUX_DEFAULT").at(-1);
    if (after) {
      const nl = main.text.indexOf("\n", after.a.valueEnd);
      const at = nl < 0 ? main.text.length : nl + 1;
      edit(main, at, at, nl < 0 ? `${eol}${lineText}${eol}` : `${lineText}${eol}`);
    } else {
      const needsEol = main.text.length > 0 && !main.text.endsWith("\n");
      edit(main, main.text.length, main.text.length, `${needsEol ? eol : ""}${lineText}${eol}`);
    }
  }
  const changes: FileChange[] = [];
  for (const file of files) {
    const list = edits.get(file);
    if (!list) continue;
    let text = file.text;
    for (const e of [...list].sort((x, y) => y.start - x.start)) text = text.slice(0, e.start) + e.text + text.slice(e.end);
    if (text !== file.text) changes.push({ path: file.path, before: file.text, after: text });
  }
  return changes;
}

function mentionsCrashkernel(f: Found): boolean {
  return /(^|[\s"'])crashkernel=/.test(f.file.text.slice(f.a.valueStart, f.a.valueEnd));
}

/** The command that regenerates grub.cfg on the box under `root`, or null when no GRUB tool is installed. */
export function grubRegenerateCommand(root = ""): string[] | null {
  const has = (p: string) => existsSync(join(root, p));
  if (has("/usr/sbin/update-grub") || has("/sbin/update-grub")) return ["update-grub"];
  if (has("/usr/sbin/grub-mkconfig") || has("/sbin/grub-mkconfig")) return ["grub-mkconfig", "-o", "/boot/grub/grub.cfg"];
  if (has("/usr/sbin/grub2-mkconfig") || has("/sbin/grub2-mkconfig")) return ["grub2-mkconfig", "-o", "/boot/grub2/grub.cfg"];
  return null;
}
