// A kernel's virtual memory as the analysis sees it: a dump plus VMCOREINFO plus x86_64 page tables.
// Built by openKernel() (lib/kernel/open.ts); lib/analyze/ asks questions of it, never of the dump's bytes.
import type { Dump } from "../dump/dump.ts";

/** Reads kernel virtual memory. Every method throws FaultError for an address the dump cannot supply. */
export interface KernelView {
  /** The dump underneath. */
  readonly dump: Dump;
  /** Parsed VMCOREINFO (see lib/kernel/vmcoreinfo.ts). */
  readonly info: import("./vmcoreinfo.ts").Vmcoreinfo;
  /** Virtual → physical, through KERNELOFFSET/phys_base for kernel text and the page tables otherwise. */
  translate(vaddr: bigint): bigint;
  /** translate() plus the bytes from `vaddr` its mapping covers contiguously (lib/arch/arch.ts MappedRun), where known. */
  mappedRun?(vaddr: bigint): import("../arch/arch.ts").MappedRun | null;
  /** `length` bytes at kernel virtual address `vaddr` (may cross pages). */
  read(vaddr: bigint, length: number): Uint8Array;
  u8(vaddr: bigint): number;
  u16(vaddr: bigint): number;
  u32(vaddr: bigint): number;
  s32(vaddr: bigint): number;
  u64(vaddr: bigint): bigint;
  /** A NUL-terminated string of at most `max` bytes. */
  cstring(vaddr: bigint, max?: number): string;
}
