// The kernel's clocks at the crash, from timekeeping's tk_core (kernel/time/timekeeping.c, 3.17+): the wall clock
// (timekeeper.xtime_sec) and the offset from CLOCK_MONOTONIC to CLOCK_REALTIME (timekeeper.offs_real), which
// turns a printk timestamp into a wall-clock time as crash's log -T does. Struct layouts from BTF.
import { MissingDataError } from "../errors.ts";
import type { KernelProgram } from "./program.ts";

/** The timekeeper's view of time when the dump was taken. */
export interface Timekeeping {
  /** CLOCK_REALTIME seconds (timekeeper.xtime_sec). */
  xtimeSec: bigint;
  /** CLOCK_REALTIME minus CLOCK_MONOTONIC, in ns (timekeeper.offs_real). */
  offsReal: bigint;
  /** Wall-clock seconds at boot: offs_real rounded down, what crash calls the boot date. */
  bootSec: bigint;
}

/**
 * Reads tk_core.timekeeper. tk_core is an anonymous `struct { seqcount_raw_spinlock_t seq; struct timekeeper
 * timekeeper; }` up to 6.12 and a named `struct tk_data` in newer kernels, so the timekeeper's offset is
 * tk_data's when BTF has it, else the size of the seqcount rounded up to the timekeeper's 8-byte alignment.
 * @example new Date(Number(readTimekeeping(prog).xtimeSec) * 1000)
 */
export function readTimekeeping(prog: KernelProgram): Timekeeping {
  const tk = prog.symbols.lookup("tk_core");
  if (tk === undefined) throw new MissingDataError("the kernel has no tk_core symbol", { hint: "wall-clock times need timekeeping (3.17+)" });
  const btf = prog.btf;
  const at = btf.hasStruct("tk_data") ? btf.offsetof("tk_data", "timekeeper") : (btf.sizeof("seqcount_raw_spinlock") + 7) & ~7;
  const base = tk + BigInt(at);
  const xtimeSec = prog.view.u64(base + BigInt(prog.off("timekeeper", "xtime_sec")));
  const offsReal = BigInt.asIntN(64, prog.view.u64(base + BigInt(prog.off("timekeeper", "offs_real"))));
  return { xtimeSec, offsReal, bootSec: offsReal / 1_000_000_000n };
}
