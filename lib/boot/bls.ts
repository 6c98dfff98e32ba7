// Boot Loader Specification type #1 entries (loader/entries/*.conf): what Fedora/RHEL GRUB (managed with grubby)
// and systemd-boot boot. The kernel command line is the entry's `options` line(s); only crashkernel= words change,
// and every other byte of the file stays (entries are byte strings, see box_file.ts). Linear in the entry size.
import { listBoxDir, readBoxBytes } from "./box_file.ts";
import { type CrashkernelArg, crashkernelWords, formatCrashkernel, withCrashkernel } from "./crashkernel.ts";
import { applyEdits, type Edit, type FileChange } from "./file_change.ts";
import type { PlacedCrashkernel } from "./grub.ts";

/** Where entries live: /boot (Fedora, XBOOTLDR), the ESP mounted at /efi or /boot/efi (systemd-boot). */
export const BLS_ENTRY_DIRS = ["/boot/loader/entries", "/efi/loader/entries", "/boot/efi/loader/entries"];

/** One entry file as read from the box. */
export interface BlsEntry {
  /** Path on the box, e.g. /boot/loader/entries/abc-6.12.0-55.el10.x86_64.conf. */
  path: string;
  /** Its bytes, as a byte string. */
  text: string;
}

/** The entries under `root` in the given directories (default: all the usual ones), sorted by path. */
export function readBlsEntries(root = "", dirs = BLS_ENTRY_DIRS): BlsEntry[] {
  const out: BlsEntry[] = [];
  for (const d of dirs)
    for (const name of listBoxDir(root, d).filter((n) => n.endsWith(".conf"))) {
      const text = readBoxBytes(root, `${d}/${name}`);
      if (text !== null) out.push({ path: `${d}/${name}`, text });
    }
  return out;
}

const OPTIONS_HEAD = /^([ \t]*options)([ \t]+)/;

/** An options line split as [whole, key, separator, words, trailing blanks and \r], or null (linear: no lazy regex). */
function optionsLine(line: string): [string, string, string, string, string] | null {
  const m = OPTIONS_HEAD.exec(line);
  if (!m) return null;
  let end = line.length;
  while (end > m[0].length && " \t\r".includes(line[end - 1]!)) end--;
  return [line, m[1]!, m[2]!, line.slice(m[0].length, end), line.slice(end)];
}

/** The crashkernel= words of an entry's options lines, in order, with their line and column. */
export function blsCrashkernel(entry: BlsEntry): PlacedCrashkernel[] {
  return entry.text.split("\n").flatMap((line, i) => {
    const m = optionsLine(line);
    if (!m) return [];
    const col = m[1]!.length + m[2]!.length + 1;
    return crashkernelWords(m[3]!, { source: entry.path, line: i + 1, column: col }).map((w) => ({
      arg: w.arg,
      path: entry.path,
      line: i + 1,
      column: col + w.start,
      variable: "options",
    }));
  });
}

/**
 * The changes that make every entry pass exactly `args` (none removes crashkernel=): the words go where the
 * first one was, or at the end of the last options line, or on a new options line when the entry has none.
 * An entry whose options use $kernelopts (RHEL 8's grubenv) gets the words after it, which win over grubenv's.
 */
export function planBlsEntries(entries: BlsEntry[], args: CrashkernelArg[]): FileChange[] {
  const changes: FileChange[] = [];
  for (const e of entries) {
    blsCrashkernel(e); // a malformed value stops here, before anything is planned
    const lines = e.text.split("\n");
    const starts: number[] = [];
    for (let i = 0, at = 0; i < lines.length; at += lines[i]!.length + 1, i++) starts.push(at);
    const opts = lines.flatMap((l, i) => (OPTIONS_HEAD.test(l) ? [i] : []));
    const holder = opts.find((i) => /(^|[ \t\n\v\f\r])crashkernel=/.test(optionsLine(lines[i]!)![3])) ?? opts.at(-1);
    const edits: Edit[] = [];
    for (const i of opts) {
      const m = optionsLine(lines[i]!)!;
      const words = withCrashkernel(m[3]!, i === holder ? args : []);
      const at = starts[i]! + m[1]!.length + m[2]!.length;
      if (words !== m[3]) edits.push({ start: at, end: at + m[3]!.length, text: words });
    }
    if (holder === undefined && args.length) {
      const crlf = e.text.includes("\r\n");
      const line = `options ${args.map((a) => `crashkernel=${formatCrashkernel(a)}`).join(" ")}`;
      const eol = crlf ? "\r\n" : "\n";
      const end = e.text.length;
      // A new last line: after the final newline, or after a line end given to an unterminated last line.
      if (end === 0 || e.text.endsWith("\n")) edits.push({ start: end, end, text: `${line}${eol}` });
      else edits.push({ start: end, end, text: `${eol}${line}` });
    }
    if (edits.length) changes.push({ path: e.path, before: e.text, after: applyEdits(e.text, edits), edits });
  }
  return changes;
}

/** The grubby command that makes every entry pass exactly `args` (grubby's --args replaces a same-named one). */
export function grubbyCommand(args: CrashkernelArg[]): string[] {
  return args.length
    ? ["grubby", "--update-kernel=ALL", `--args=${args.map((a) => `crashkernel=${formatCrashkernel(a)}`).join(" ")}`]
    : ["grubby", "--update-kernel=ALL", "--remove-args=crashkernel"];
}
