// CPU time of the calling thread and of the whole process (Linux, any kernel with /proc/thread-self: 3.17+), so a
// collection can say how its time split between the main thread (the walk, the plan, the writes) and the
// compression threads; and a thread CPU clock (clock_gettime through libc) for the CPU of each stage of the page loop.
import { dlopen, FFIType } from "bun:ffi";
import { readdirSync, readFileSync } from "node:fs";
import { optionalLibrary } from "../sys/optional_library.ts";

/**
 * CPU seconds (user + system) the calling thread has used, from /proc/thread-self/stat, or null where it cannot be
 * read. Clock ticks are taken as 100 a second (USER_HZ on every Linux architecture).
 */
export function threadCpuSeconds(): number | null {
  try {
    return statCpuSeconds(readFileSync("/proc/thread-self/stat", "utf8"));
  } catch {
    return null;
  }
}

/** utime + stime of a /proc stat line, in seconds. */
function statCpuSeconds(stat: string): number {
  // the command name (field 2) may hold spaces and parentheses: fields are counted after its closing one
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** CPU seconds (user + system) of the whole process, threads that ended included. */
export function processCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/**
 * CPU seconds of each live thread of the process by its name (/proc/self/task/TID/stat): the engine's JIT and
 * collector helper threads, the compression workers, the main thread. For diagnosis (KDUMP_THREAD_CPU=1 prints it).
 */
export function cpuByThreadName(): Map<string, number> {
  const out = new Map<string, number>();
  try {
    for (const tid of readdirSync("/proc/self/task")) {
      try {
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
        const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
        out.set(name, (out.get(name) ?? 0) + statCpuSeconds(stat));
      } catch {
        // the thread ended
      }
    }
  } catch {
    // no /proc
  }
  return out;
}

/** clockid_t of the calling thread's CPU time (linux/time.h). */
const CLOCK_THREAD_CPUTIME_ID = 3;
const libc = optionalLibrary(() => dlopen("libc.so.6", { clock_gettime: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 } }));
const timespec = new Uint8Array(16);
const timespecView = new DataView(timespec.buffer);

/**
 * The calling thread's CPU time in ms, to the nanosecond (clock_gettime through libc; /proc's ticks are 10 ms), or 0
 * where libc cannot be opened.
 */
export function threadCpuMs(): number {
  const l = libc();
  if (!l || l.symbols.clock_gettime(CLOCK_THREAD_CPUTIME_ID, timespec) !== 0) return 0;
  return Number(timespecView.getBigInt64(0, true)) * 1e3 + Number(timespecView.getBigInt64(8, true)) / 1e6;
}

/**
 * A thread's CPU time by stage: lap(name) charges the CPU used since the last lap to `name`.
 * @example const c = new StageClock(); plan(); c.lap("plan"); write(); c.lap("write"); c.format() // "plan 0.80 s, write 2.52 s"
 */
export class StageClock {
  readonly ms = new Map<string, number>();
  private last = threadCpuMs();

  lap(name: string): void {
    const now = threadCpuMs();
    this.ms.set(name, (this.ms.get(name) ?? 0) + now - this.last);
    this.last = now;
  }

  format(): string {
    return formatStages(this.ms);
  }
}

/** "name 1.23 s, …" of CPU ms by stage. */
export function formatStages(ms: Map<string, number>): string {
  return [...ms].map(([n, v]) => `${n} ${(v / 1000).toFixed(2)} s`).join(", ");
}
