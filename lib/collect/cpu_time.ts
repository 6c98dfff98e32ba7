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
