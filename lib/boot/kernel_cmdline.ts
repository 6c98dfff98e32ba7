// /etc/kernel/cmdline: the command line kernel-install (systemd 240+) writes into the entries and unified kernel
// images it makes for each new kernel (used by systemd-boot, and by Fedora's 20-grub.install). Without the file,
// kernel-install copies /proc/cmdline, so creating it from there keeps what the box boots with today. The file is
// edited as bytes (see box_file.ts): only crashkernel= words change.
import { readBoxBytes } from "./box_file.ts";
import { type CrashkernelArg, crashkernelWords, withCrashkernel } from "./crashkernel.ts";
import { applyEdits, type Edit, type FileChange } from "./file_change.ts";
import type { PlacedCrashkernel } from "./grub.ts";

/** The file kernel-install reads. */
export const KERNEL_CMDLINE = "/etc/kernel/cmdline";

/** The bytes of /etc/kernel/cmdline under `root` (a byte string), or null when absent. */
export function readKernelCmdline(root = ""): string | null {
  return readBoxBytes(root, KERNEL_CMDLINE);
}

/** The crashkernel= words of the file's text (kernel-install joins its lines with spaces). */
export function kernelCmdlineCrashkernel(text: string): PlacedCrashkernel[] {
  return text.split("\n").flatMap((line, i) =>
    crashkernelWords(line, { source: KERNEL_CMDLINE, line: i + 1, column: 1 }).map((w) => ({
      arg: w.arg,
      path: KERNEL_CMDLINE,
      line: i + 1,
      column: w.start + 1,
      variable: "cmdline",
    })),
  );
}

/** /proc/cmdline without the words a boot loader adds for itself (BOOT_IMAGE=, initrd=), as kernel-install does. */
export function cmdlineFromProc(proc: string): string {
  return proc.trim().split(/\s+/).filter((w) => w && !/^(BOOT_IMAGE|initrd)=/.test(w)).join(" ");
}

/**
 * The change to /etc/kernel/cmdline that makes it pass exactly `args`, or null when nothing changes.
 * `text` null means the file is absent: it is created from `procCmdline` when `args` is not empty.
 */
export function planKernelCmdline(text: string | null, args: CrashkernelArg[], procCmdline: string): FileChange | null {
  if (text === null) {
    if (!args.length) return null;
    return { path: KERNEL_CMDLINE, before: null, after: `${withCrashkernel(cmdlineFromProc(procCmdline), args)}\n` };
  }
  kernelCmdlineCrashkernel(text); // a malformed value stops here
  const lines = text.split("\n");
  const first = lines.findIndex((l) => /(^|[ \t\n\v\f\r])crashkernel=/.test(l));
  const holder = first >= 0 ? first : Math.max(0, lines.findLastIndex((l) => /[^ \t\n\v\f\r]/.test(l)));
  const edits: Edit[] = [];
  for (let i = 0, at = 0; i < lines.length; at += lines[i]!.length + 1, i++) {
    const l = lines[i]!;
    if (!(/(^|[ \t\n\v\f\r])crashkernel=/.test(l) || i === holder)) continue;
    const body = l.endsWith("\r") ? l.slice(0, -1) : l;
    const words = withCrashkernel(body, i === holder ? args : []);
    if (words !== body) edits.push({ start: at, end: at + body.length, text: words });
  }
  return edits.length ? { path: KERNEL_CMDLINE, before: text, after: applyEdits(text, edits), edits } : null;
}
