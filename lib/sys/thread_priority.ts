// The calling thread's scheduling priority (nice value) through libc's getpriority/setpriority (bun:ffi). On Linux a
// nice value belongs to one thread, not the process: setpriority(PRIO_PROCESS, 0, n) changes the caller only, and
// threads it starts later inherit it. Lowering it (a higher priority) needs root (CAP_SYS_NICE) or RLIMIT_NICE.
// libc's functions, not raw syscall numbers: the same call on every architecture glibc runs on.
import { dlopen, FFIType } from "bun:ffi";
import { optionalLibrary } from "./optional_library.ts";

const PRIO_PROCESS = 0;

const library = optionalLibrary(
  () =>
    dlopen("libc.so.6", {
      getpriority: { args: [FFIType.i32, FFIType.u32], returns: FFIType.i32 },
      setpriority: { args: [FFIType.i32, FFIType.u32, FFIType.i32], returns: FFIType.i32 },
    }),
  "KDUMP_NO_PRIORITY",
);

/** The calling thread's nice value, or null where it cannot be read (no glibc here, or KDUMP_NO_PRIORITY=1). */
export function threadNice(): number | null {
  const lib = library();
  // getpriority() returns the nice value itself (-20…19) on Linux's glibc, -1 for both nice -1 and an error: the
  // tid 0 of the caller cannot fail
  return lib ? lib.symbols.getpriority(PRIO_PROCESS, 0) : null;
}

/**
 * Sets the calling thread's nice value; true when the kernel took it (false without root for a value below the
 * current one, or where there is no libc binding).
 * @example setThreadNice(-5)
 */
export function setThreadNice(nice: number): boolean {
  const lib = library();
  return lib ? lib.symbols.setpriority(PRIO_PROCESS, 0, nice) === 0 : false;
}
