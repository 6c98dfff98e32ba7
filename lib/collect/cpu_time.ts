// CPU time of the calling thread and of the whole process (Linux, any kernel with /proc/thread-self: 3.17+), so a
// collection can say how its time split between the main thread (the walk, the plan, the writes) and the
// compression threads.
import { readdirSync, readFileSync } from "node:fs";

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

let clock: { gettime: (id: number, ts: Uint8Array) => number } | null | undefined;
const ts = new Uint8Array(16);
const tsView = new DataView(ts.buffer);
/** The calling thread's CPU time in ms (clock_gettime(CLOCK_THREAD_CPUTIME_ID) through libc), or 0 without it. */
export function threadCpuMs(): number {
  if (clock === undefined) {
    try {
      const { dlopen, FFIType } = require("bun:ffi") as typeof import("bun:ffi");
      const l = dlopen("libc.so.6", { clock_gettime: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 } });
      clock = { gettime: (id, t) => l.symbols.clock_gettime(id, t) as number };
    } catch {
      clock = null;
    }
  }
  if (!clock || clock.gettime(3, ts) !== 0) return 0;
  return Number(tsView.getBigInt64(0, true)) * 1e3 + Number(tsView.getBigInt64(8, true)) / 1e6;
}

/** CPU ms by stage of one thread, for KDUMP_THREAD_CPU=1: lap(name) charges the time since the last lap to name. */
export class StageClock {
  readonly ms = new Map<string, number>();
  private last = threadCpuMs();
  lap(name: string): void {
    const now = threadCpuMs();
    this.ms.set(name, (this.ms.get(name) ?? 0) + now - this.last);
    this.last = now;
  }
  add(name: string, ms: number): void {
    this.ms.set(name, (this.ms.get(name) ?? 0) + ms);
  }
  format(): string {
    return [...this.ms].map(([n, v]) => `${n} ${(v / 1000).toFixed(2)} s`).join(", ");
  }
}
