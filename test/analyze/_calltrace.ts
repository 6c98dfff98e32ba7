// The kernel's own printed stack trace as an oracle: the functions of the last "Call Trace:" in a dump's log,
// reliable entries only (the kernel prefixes unreliable ones with "?"), as "function [module]".
import { logLines } from "../../lib/analyze/sys.ts";
import { openDump } from "../../lib/dump/open.ts";
import { openKernel } from "../../lib/kernel/open.ts";
import { readPrintk } from "../../lib/kernel/printk.ts";

/** A trace line: " func+0x1f/0x30 [mod]", " ? func+…", or " <IRQ>" style markers. */
const ENTRY = /^ (\? )?([\w.$]+)\+0x[0-9a-f]+\/0x[0-9a-f]+(?: \[(\w+)\])?/;

/** The reliable entries of the last Call Trace printed in the log of the dump at `vmcore`. */
export function kernelCallTrace(vmcore: string): string[] {
  const dump = openDump(vmcore);
  try {
    const lines = logLines(readPrintk(openKernel(dump)));
    const start = lines.lastIndexOf("Call Trace:");
    // arm64 prints "Call trace:" with no <TASK> markers: its trace ends at the first line that is not an entry
    const arm = lines.lastIndexOf("Call trace:");
    if (start < 0 && arm < 0) throw new Error(`no Call Trace in the log of ${vmcore}`);
    const out: string[] = [];
    for (const l of lines.slice(Math.max(start, arm) + 1)) {
      if (/^ <\/TASK>/.test(l)) break;
      const m = ENTRY.exec(l);
      if (arm > start && !m) break;
      if (m && !m[1]) out.push(m[3] ? `${m[2]} [${m[3]}]` : m[2]!);
    }
    // arm64's trace starts in the printing itself (show_stack marked "(C)", dump_stack_lvl, dump_stack)
    if (arm > start) while (out.length && /^(show_stack|dump_stack_lvl|dump_stack|dump_backtrace)$/.test(out[0]!)) out.shift();
    return out;
  } finally {
    dump.close();
  }
}

/** The "Modules linked in:" list of the last oops in the log (module names, taint flags removed). */
export function modulesLinkedIn(vmcore: string): string[] {
  const dump = openDump(vmcore);
  try {
    const line = logLines(readPrintk(openKernel(dump))).findLast((l) => l.startsWith("Modules linked in:"));
    if (!line) throw new Error(`no "Modules linked in:" line in the log of ${vmcore}`);
    return line
      .slice("Modules linked in:".length)
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map((m) => m.replace(/\(.*\)$/, ""));
  } finally {
    dump.close();
  }
}

/**
 * Whether `ours` (function [module] per frame, first frame first) tells the same story as the kernel's trace:
 * from the first function both list (at most 2 frames into either), every entry equal, in order, to the end.
 */
export function sameTrace(ours: string[], kernel: string[]): { ok: boolean; from: number } {
  const k0 = kernel.findIndex((f) => ours.includes(f));
  if (k0 < 0 || k0 > 2) return { ok: false, from: -1 };
  const o0 = ours.indexOf(kernel[k0]!);
  const ok = o0 <= 2 && JSON.stringify(ours.slice(o0)) === JSON.stringify(kernel.slice(k0));
  return { ok, from: o0 };
}
