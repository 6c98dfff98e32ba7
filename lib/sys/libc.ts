// The one bun:ffi binding of libc: syscall(), errno via __errno_location, and errno names.
// Linux only. Everything that enters the kernel (kexec, reboot, mount, finit_module) goes through here.
import { dlopen, FFIType, ptr, read, type Pointer } from "bun:ffi";
import { syscallTable, type SyscallName, type SyscallTable } from "./syscall_table.ts";


let lib: ReturnType<typeof open> | undefined;
function open() {
  return dlopen("libc.so.6", {
    // FFI has no variadic calls: a fixed arity of six, unused arguments zero.
    syscall: { args: [FFIType.i64, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64], returns: FFIType.i64 },
    __errno_location: { args: [], returns: FFIType.ptr },
  });
}

/** A syscall argument: a number, a bigint, a pointer-able buffer, or null. */
export type Arg = number | bigint | null | Uint8Array | Pointer;

function toWord(a: Arg): bigint {
  if (a === null) return 0n;
  if (typeof a === "bigint") return a;
  if (typeof a === "number") return BigInt(a) & 0xffff_ffff_ffff_ffffn;
  if (a instanceof Uint8Array) return BigInt(ptr(a));
  return BigInt(a as unknown as number);
}

/** Raw result of a syscall: the return value, and errno when it is -1. */
export interface SyscallResult {
  /** The return value (−1 on failure). */
  ret: bigint;
  /** errno read right after the call; 0 when the call succeeded. */
  errno: number;
}

let table: SyscallTable | undefined;

/**
 * Calls the syscall `name` through libc with this machine's number for it, and reads errno immediately after.
 * Throws UnsupportedMachineError, before entering the kernel, on a machine without a syscall table.
 * @example syscall("sync") // { ret: 0n, errno: 0 }
 */
export function syscall(name: SyscallName, ...args: Arg[]): SyscallResult {
  table ??= syscallTable();
  const nr = table[name];
  lib ??= open();
  const w = args.map(toWord);
  while (w.length < 6) w.push(0n);
  const ret = BigInt(lib.symbols.syscall(nr, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!) as number | bigint);
  const errno = ret === -1n ? read.i32(lib.symbols.__errno_location() as Pointer, 0) : 0;
  return { ret, errno };
}

/** A NUL-terminated copy of a string, for char * arguments. */
export function cstring(s: string): Uint8Array {
  return new TextEncoder().encode(s + "\0");
}

/** errno names (asm-generic/errno*.h: the same on x86_64 and aarch64) for the values the toolkit reports. */
export const ERRNO: Record<number, string> = {
  1: "EPERM", 2: "ENOENT", 3: "ESRCH", 4: "EINTR", 5: "EIO", 8: "ENOEXEC", 9: "EBADF", 11: "EAGAIN",
  12: "ENOMEM", 13: "EACCES", 14: "EFAULT", 16: "EBUSY", 17: "EEXIST", 19: "ENODEV", 20: "ENOTDIR",
  22: "EINVAL", 27: "EFBIG", 28: "ENOSPC", 30: "EROFS", 38: "ENOSYS", 61: "ENODATA", 74: "EBADMSG",
  95: "EOPNOTSUPP", 99: "EADDRNOTAVAIL", 126: "ENOKEY", 129: "EKEYREJECTED",
};

/** The name of an errno value, e.g. 99 → "EADDRNOTAVAIL". */
export function errnoName(errno: number): string {
  return ERRNO[errno] ?? `errno ${errno}`;
}
