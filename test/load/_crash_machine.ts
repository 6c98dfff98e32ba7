// The crashed machine that capture tests build headers for: a lab guest's /proc/iomem (QEMU i440FX, 1 GiB,
// crashkernel=256M, the machine labDump crashes), and where its boots put the crash reservation.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type CrashMachine, parseIomem } from "../../lib/load/crash_machine.ts";

/** /proc/iomem of the lab guest. */
export const IOMEM = readFileSync(join(import.meta.dir, "fixtures/iomem-qemu-1g-crashkernel-256m.txt"), "utf8");

/** The crash reservation a lab boot made ("Reserving 256MB of memory at 752MB for crashkernel"): it moves with KASLR. */
export function reservation(console: string): { start: bigint; end: bigint } {
  const m = /Reserving (\d+)MB of memory at (\d+)MB for crashkernel/.exec(console)!;
  const start = BigInt(m[2]!) << 20n;
  return { start, end: start + (BigInt(m[1]!) << 20n) - 1n };
}

/** The lab guest as a CrashMachine; `extra` fills in what a test needs beyond the memory map. */
export function labMachine(extra: Partial<CrashMachine> = {}): CrashMachine {
  const iomem = parseIomem(IOMEM);
  const crash = iomem.find((r) => r.name === "Crash kernel")!;
  return {
    iomem,
    crash: { start: crash.start, end: crash.end },
    cpuNotes: [],
    vmcoreinfo: { addr: 0n, size: 0 },
    kernelText: { virt: 0n, phys: 0n, size: 0 },
    pageOffset: 0n,
    bootParams: null,
    ...extra,
  };
}
