// Boot Loader Specification type #1 entries (loader/entries/*.conf): what Fedora/RHEL GRUB (managed with grubby)
// and systemd-boot boot. The kernel command line is the entry's `options` line(s); only crashkernel= words change.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type CrashkernelArg, crashkernelWords, formatCrashkernel, withCrashkernel } from "./crashkernel.ts";
import type { FileChange } from "./file_change.ts";
import type { PlacedCrashkernel } from "./grub.ts";

/** Where entries live: /boot (Fedora, XBOOTLDR), the ESP mounted at /efi or /boot/efi (systemd-boot). */
export const BLS_ENTRY_DIRS = ["/boot/loader/entries", "/efi/loader/entries", "/boot/efi/loader/entries"];

/** One entry file as read from the box. */
export interface BlsEntry {
  /** Path on the box, e.g. /boot/loader/entries/abc-6.12.0-55.el10.x86_64.conf. */
  path: string;
  /** Its text. */
  text: string;
}

/** The entries under `root` in the given directories (default: all the usual ones), sorted by path. */
export function readBlsEntries(root = "", dirs = BLS_ENTRY_DIRS): BlsEntry[] {
  const out: BlsEntry[] = [];
  for (const d of dirs) {
    const dir = join(root, d);
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir).filter((n) => n.endsWith(".conf")).sort())
      out.push({ path: `${d}/${name}`, text: readFileSync(join(dir, name), "utf8") });
  }
  return out;
}

const OPTIONS = /^([ \t]*options)([ \t]+)(.*?)([ \t\r]*)$/;

/** The crashkernel= words of an entry's options lines, in order, with their line and column. */
export function blsCrashkernel(entry: BlsEntry): PlacedCrashkernel[] {
  return entry.text.split("\n").flatMap((line, i) => {
    const m = OPTIONS.exec(line);
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
    const opts = lines.flatMap((l, i) => (OPTIONS.test(l) ? [i] : []));
    const holder = opts.find((i) => /(^|\s)crashkernel=/.test(OPTIONS.exec(lines[i]!)![3]!)) ?? opts.at(-1);
    for (const i of opts) {
      const m = OPTIONS.exec(lines[i]!)!;
      lines[i] = `${m[1]}${m[2]}${withCrashkernel(m[3]!, i === holder ? args : [])}${m[4]}`;
    }
    if (holder === undefined && args.length) {
      const eol = e.text.includes("\r\n") ? "\r" : "";
      const words = args.map((a) => `crashkernel=${formatCrashkernel(a)}`).join(" ");
      const last = lines.at(-1) === "" ? lines.length - 1 : lines.length;
      lines.splice(last, 0, `options ${words}${eol}`);
    }
    const after = lines.join("\n");
    if (after !== e.text) changes.push({ path: e.path, before: e.text, after });
  }
  return changes;
}

/** The grubby command that makes every entry pass exactly `args` (grubby's --args replaces a same-named one). */
export function grubbyCommand(args: CrashkernelArg[]): string[] {
  return args.length
    ? ["grubby", "--update-kernel=ALL", `--args=${args.map((a) => `crashkernel=${formatCrashkernel(a)}`).join(" ")}`]
    : ["grubby", "--update-kernel=ALL", "--remove-args=crashkernel"];
}
