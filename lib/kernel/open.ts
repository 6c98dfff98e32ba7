// Builds the KernelView of a dump: VMCOREINFO parsed, page tables ready, typed reads of kernel virtual memory.
// Kernels with VMCOREINFO (2.6.24+) of an architecture lib/arch knows; it sets up the page-table walk.
import { BadDataError, MissingDataError } from "../errors.ts";
import type { Dump } from "../dump/dump.ts";
import { archOfDump, type MappedRun, type Translator } from "../arch/arch.ts";
import type { KernelView } from "./view.ts";
import { Vmcoreinfo } from "./vmcoreinfo.ts";

/**
 * The kernel inside `dump`. Throws MissingDataError when the dump has no VMCOREINFO (a raw memory image).
 * @example const k = openKernel(openDump(path)); k.cstring(k.info.symbol("init_uts_ns") + 4n + 130n)
 */
export function openKernel(dump: Dump): KernelView {
  if (!dump.vmcoreinfo) throw new MissingDataError(`${dump.path} has no VMCOREINFO`, { hint: "it cannot be analyzed without debuginfo; was it made from /proc/vmcore?" });
  return new KernelMemory(dump, new Vmcoreinfo(dump.vmcoreinfo));
}

/** KernelView over a dump's physical pages. */
class KernelMemory implements KernelView {
  readonly pagetable: Translator;

  constructor(
    readonly dump: Dump,
    readonly info: Vmcoreinfo,
  ) {
    this.pagetable = archOfDump(dump).pageTable(dump, info);
  }

  translate(vaddr: bigint): bigint {
    return this.pagetable.translate(vaddr);
  }

  mappedRun(vaddr: bigint): MappedRun | null {
    return this.pagetable.mappedRun?.(vaddr) ?? null;
  }

  read(vaddr: bigint, length: number): Uint8Array {
    if (length < 0 || length > 1 << 30) throw new BadDataError(`read of ${length} bytes at 0x${vaddr.toString(16)} is not a sane size`);
    const ps = this.info.pageSize;
    const first = ps - Number(vaddr & BigInt(ps - 1));
    if (length <= first) return this.dump.readPhys(this.translate(vaddr), length);
    const out = new Uint8Array(length);
    for (let pos = 0; pos < length; ) {
      const take = Math.min(length - pos, pos === 0 ? first : ps);
      out.set(this.dump.readPhys(this.translate(vaddr + BigInt(pos)), take), pos);
      pos += take;
    }
    return out;
  }

  private view(vaddr: bigint, n: number): DataView {
    const b = this.read(vaddr, n);
    return new DataView(b.buffer, b.byteOffset, n);
  }
  u8(vaddr: bigint): number {
    return this.read(vaddr, 1)[0]!;
  }
  u16(vaddr: bigint): number {
    return this.view(vaddr, 2).getUint16(0, true);
  }
  u32(vaddr: bigint): number {
    return this.view(vaddr, 4).getUint32(0, true);
  }
  s32(vaddr: bigint): number {
    return this.view(vaddr, 4).getInt32(0, true);
  }
  u64(vaddr: bigint): bigint {
    return this.view(vaddr, 8).getBigUint64(0, true);
  }
  cstring(vaddr: bigint, max = 4096): string {
    const ps = BigInt(this.info.pageSize);
    const parts: Uint8Array[] = [];
    let total = 0;
    for (let a = vaddr; total < max; ) {
      const n = Math.min(max - total, Number(ps - (a % ps)));
      const chunk = this.read(a, n);
      const nul = chunk.indexOf(0);
      parts.push(nul >= 0 ? chunk.subarray(0, nul) : chunk);
      total += n;
      a += BigInt(n);
      if (nul >= 0) break;
    }
    return new TextDecoder().decode(Buffer.concat(parts));
  }
}
