// Read-only file mappings through libc's mmap/munmap (bun:ffi), for reading /proc/vmcore as makedumpfile does.
// Bun.mmap maps a whole file and unmaps it only when the engine collects the array; a capture needs windows mapped
// and unmapped at known points, so the kernel's page tables for old memory do not pile up in a small reservation.
// libc's functions, not raw syscall numbers: mmap is the same call on every architecture glibc runs on.
import { dlopen, FFIType, ptr } from "bun:ffi";
import { optionalLibrary } from "./optional_library.ts";

const PROT_READ = 1;
const MAP_PRIVATE = 2;

const library = optionalLibrary(open, "KDUMP_NO_MMAP");
function open() {
  return dlopen("libc.so.6", {
    // void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset): MAP_FAILED is (void *)-1,
    // read as a signed number so it is -1 and not a pointer
    mmap: { args: [FFIType.u64, FFIType.u64, FFIType.i32, FFIType.i32, FFIType.i32, FFIType.i64], returns: FFIType.i64_fast },
    munmap: { args: [FFIType.u64, FFIType.u64], returns: FFIType.i32 },
    // void *memcpy(void *dest, const void *src, size_t n): out of a mapping with no ArrayBuffer over it (JSC counts
    // an external ArrayBuffer's size as allocated memory, and 4 MiB per window set off collections)
    memcpy: { args: [FFIType.ptr, FFIType.u64, FFIType.u64], returns: FFIType.u64 },
  });
}

/** True when libc's mmap can be called here (glibc; KDUMP_NO_MMAP=1 says no, to test the read(2) path). */
export function haveMmap(): boolean {
  return library() !== null;
}

/** A read-only private mapping of `length` bytes of a file from `offset` (page-aligned). */
export interface Mapping {
  /** Offset in the file of the first byte. */
  offset: number;
  length: number;
  /** Where it is mapped: valid until unmap(). */
  address: number;
}

/**
 * Maps `length` bytes of `fd` from `offset` read-only, or returns null when the kernel refuses or there is no mmap
 * here (the caller reads instead).
 * @example const m = mapFile(fd, 0, 4 << 20); … unmap(m)
 */
export function mapFile(fd: number, offset: number, length: number): Mapping | null {
  const lib = library();
  if (!lib) return null;
  const a = Number(lib.symbols.mmap(0, length, PROT_READ, MAP_PRIVATE, fd, offset));
  if (a === -1 || a === 0) return null;
  return { offset, length, address: a };
}

/**
 * Copies `n` bytes at `from` of a mapping into `into` at `at` (the caller checks both ranges).
 * @example copyOut(m, pos - m.offset, page, 0, 4096)
 */
export function copyOut(m: Mapping, from: number, into: Uint8Array, at: number, n: number): void {
  library()!.symbols.memcpy(ptr(into, at), m.address + from, n);
}

/** Unmaps a mapping; its bytes must not be used after. */
export function unmap(m: Mapping): void {
  library()!.symbols.munmap(m.address, m.length);
}
