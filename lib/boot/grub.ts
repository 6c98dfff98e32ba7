// GRUB defaults on Debian and Ubuntu: /etc/default/grub, then /etc/default/grub.d/*.cfg, sourced in that order by
// grub-mkconfig. GRUB_CMDLINE_LINUX goes on every menu entry's linux line (recovery too), GRUB_CMDLINE_LINUX_DEFAULT
// on the normal ones after it. Edits change only the crashkernel= words: quoting, comments, CRLF and every byte
// outside the edited values stay (files are byte strings, see box_file.ts). Linear in the size of the files.
import { boxExists, listBoxDir, readBoxBytes } from "./box_file.ts";
import { type CrashkernelArg, formatCrashkernel, parseCrashkernel, withCrashkernel } from "./crashkernel.ts";
import { applyEdits, type Edit, type FileChange } from "./file_change.ts";
import { KdumpError } from "../errors.ts";
import { ConfigSyntaxError } from "./parse_error.ts";
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
  /** Its bytes, as a byte string (one char per byte). */
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
  const main = readBoxBytes(root, GRUB_DEFAULTS);
  if (main !== null) out.push({ path: GRUB_DEFAULTS, text: main });
  for (const name of listBoxDir(root, GRUB_DROPINS).filter((n) => n.endsWith(".cfg"))) {
    const text = readBoxBytes(root, `${GRUB_DROPINS}/${name}`);
    if (text !== null) out.push({ path: `${GRUB_DROPINS}/${name}`, text });
  }
  return out;
}

/** True when the box under `root` has /etc/default/grub (a symlink resolved inside the root). */
export function hasGrubDefaults(root = ""): boolean {
  return boxExists(root, GRUB_DEFAULTS);
}

interface Found {
  file: GrubFile;
  a: Assignment;
  /** Line and column of an offset in the file (one index per file, so lookups stay linear overall). */
  at: (offset: number) => { line: number; column: number };
}

/** A line/column lookup over `text`: the newline offsets once, then a binary search per offset. */
export function lineIndex(text: string): (offset: number) => { line: number; column: number } {
  let nls: number[] | null = null;
  return (offset) => {
    if (!nls) {
      nls = [];
      for (let k = text.indexOf("\n"); k >= 0; k = text.indexOf("\n", k + 1)) nls.push(k);
    }
    let lo = 0;
    let hi = nls.length; // count of newlines before offset
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (nls[mid]! < offset) lo = mid + 1;
      else hi = mid;
    }
    return { line: lo + 1, column: offset - (lo ? nls[lo - 1]! + 1 : 0) + 1 };
  };
}

function assignments(files: GrubFile[]): Found[] {
  return files.flatMap((file) => {
    const at = lineIndex(file.text);
    return parseShellAssignments(file.text, file.path).filter((a) => VARS.includes(a.name)).map((a) => ({ file, a, at }));
  });
}

function wordsIn(f: Found): PlacedCrashkernel[] {
  const { text, path } = f.file;
  const out: PlacedCrashkernel[] = [];
  for (const m of text.slice(f.a.valueStart, f.a.valueEnd).matchAll(/(?<=^|[ \t\n\v\f\r"'])crashkernel=([^ \t\n\v\f\r"'\\]*)/g)) {
    const at = f.a.valueStart + m.index!;
    const { line, column } = f.at(at);
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

const CRASH_WORD = /(^|[ \t\n\v\f\r])crashkernel=/;
const BLANK_END = /[ \t\n\v\f\r]$/;
const BLANK_START = /^[ \t\n\v\f\r]/;

/**
 * The new source text of an assignment's value with its crashkernel= words replaced by `args`. A value of several
 * pieces ("a"'b') is edited piece by piece: the words go where the first one was, or into a new `" …"` piece at the
 * end; a piece left blank by a removal goes. A word setup cannot edit alone (unquoted with escapes, in $'…', or glued
 * to the next piece) stops it with the file, line and column.
 */
function editedValue(f: Found, args: CrashkernelArg[]): string {
  const { a, file } = f;
  const source = file.text.slice(a.valueStart, a.valueEnd);
  const added = args.map((x) => `crashkernel=${formatCrashkernel(x)}`).join(" ");
  const segs = a.segments;
  const refuse = (): never => {
    const { line, column } = f.at(a.valueStart);
    throw new ConfigSyntaxError(file.path, line, column, `${a.name}'s value mixes quoting in a way setup will not rewrite`, {
      hint: `write it as one double-quoted string, e.g. ${a.name}="quiet", and run again; nothing was changed`,
    });
  };
  if (segs.length === 0) return added ? `"${added}"` : source;
  if (segs.length === 1) {
    const s = segs[0]!;
    if (s.quote === "single") return `'${withCrashkernel(s.raw, args)}'`;
    // A plain value reads the same double-quoted unless it has escapes or a tilde (expanded only unquoted).
    if (s.quote === "double" || (s.quote === "plain" && !/[\\~]/.test(s.raw))) return `"${withCrashkernel(s.raw, args, true)}"`;
    if (!CRASH_WORD.test(s.raw) && !added) return source;
    if (!CRASH_WORD.test(s.raw)) return `${source}" ${added}"`;
    return refuse();
  }
  const pieces: string[] = [];
  let holder = -1;
  for (const [i, s] of segs.entries()) {
    const own = file.text.slice(s.start, s.end);
    if (!CRASH_WORD.test(s.raw)) {
      pieces.push(own);
      continue;
    }
    const gluedBefore = /^crashkernel=/.test(s.raw) && i > 0 && !BLANK_END.test(segs[i - 1]!.raw);
    const gluedAfter = /crashkernel=[^ \t\n\v\f\r]*$/.test(s.raw) && i + 1 < segs.length && !BLANK_START.test(segs[i + 1]!.raw);
    if ((s.quote !== "single" && s.quote !== "double") || gluedBefore || gluedAfter) return refuse();
    const q = s.quote === "single" ? "'" : '"';
    const raw = withCrashkernel(s.raw, holder < 0 && added ? args : [], s.quote === "double");
    if (holder < 0 && added) holder = i;
    if (i > 0 && raw.trim() === "" && !added) continue; // a piece that only held the words (as setup adds them) goes
    pieces.push(`${q}${raw}${q}`);
  }
  if (holder < 0 && added) pieces.push(`" ${added}"`);
  return pieces.join("");
}

function eolOf(text: string): string {
  return text.includes("\r\n") ? "\r\n" : "\n";
}

/**
 * The file changes that make the defaults pass exactly `args` as crashkernel= (an empty list removes it):
 * crashkernel= words leave every GRUB_CMDLINE_LINUX(_DEFAULT) assignment, and `args` go into the last
 * assignment of GRUB_CMDLINE_LINUX that does not just add to it, else the last that adds to it (a new line in
 * /etc/default/grub when there is none).
 */
export function planGrubDefaults(files: GrubFile[], args: CrashkernelArg[]): FileChange[] {
  const main = files.find((f) => f.path === GRUB_DEFAULTS);
  if (!main) throw new KdumpError(`${GRUB_DEFAULTS} not found`, { hint: "is GRUB installed? (apt-get install grub-pc or grub-efi-amd64)" });
  const found = assignments(files);
  for (const f of found) wordsIn(f); // a malformed value stops here, before anything is planned
  // The words go into the last assignment that sets GRUB_CMDLINE_LINUX afresh; when every one adds to it
  // ("$GRUB_CMDLINE_LINUX x", +=), into the last of those, so the words before it stay (a fresh line would drop them).
  const own = found.filter((f) => f.a.name === TARGET_VAR);
  const target = args.length ? (own.filter((f) => !refersTo(f.a, TARGET_VAR, f.file.text)).at(-1) ?? own.at(-1)) : undefined;
  const edits = new Map<GrubFile, Edit[]>();
  const edit = (file: GrubFile, start: number, end: number, text: string) => {
    if (file.text.slice(start, end) === text) return;
    const list = edits.get(file);
    if (list) list.push({ start, end, text });
    else edits.set(file, [{ start, end, text }]);
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
    const text = applyEdits(file.text, list);
    if (text !== file.text) changes.push({ path: file.path, before: file.text, after: text, edits: list });
  }
  return changes;
}

function mentionsCrashkernel(f: Found): boolean {
  return /(^|[ \t\n\v\f\r"'])crashkernel=/.test(f.file.text.slice(f.a.valueStart, f.a.valueEnd));
}

/** The command that regenerates grub.cfg on the box under `root`, or null when no GRUB tool is installed. */
export function grubRegenerateCommand(root = ""): string[] | null {
  const has = (p: string) => boxExists(root, p);
  if (has("/usr/sbin/update-grub") || has("/sbin/update-grub")) return ["update-grub"];
  if (has("/usr/sbin/grub-mkconfig") || has("/sbin/grub-mkconfig")) return ["grub-mkconfig", "-o", "/boot/grub/grub.cfg"];
  if (has("/usr/sbin/grub2-mkconfig") || has("/sbin/grub2-mkconfig")) return ["grub2-mkconfig", "-o", "/boot/grub2/grub.cfg"];
  return null;
}
