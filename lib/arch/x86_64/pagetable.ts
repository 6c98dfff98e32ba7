// x86_64 virtual → physical translation for a dump: the kernel image through phys_base (__pa_symbol), everything
// else (direct map, vmalloc, vmemmap, modules) by walking init_top_pgt, 4- or 5-level, with 1 GiB and 2 MiB pages.
import { FaultError } from "../../errors.ts";
import type { Dump } from "../../dump/dump.ts";
import { tableEntry } from "../table_entry.ts";
import { Lru } from "../../dump/source.ts";
import type { MappedRun } from "../arch.ts";

/** __START_KERNEL_map: where the kernel image is mapped (before the KASLR slide). */
export const START_KERNEL_MAP = 0xffffffff80000000n;
/** End of the kernel image mapping (KERNEL_IMAGE_SIZE = 1 GiB); modules start here (MODULES_VADDR). */
export const KERNEL_IMAGE_END = 0xffffffffc0000000n;

const PRESENT = 1n;
const PSE = 1n << 7n;
const ADDR_MASK = 0x000ffffffffff000n; // bits 12–51
const MASK_1G = 0x000fffffc0000000n;
const MASK_2M = 0x000fffffffe00000n;

/** How to translate: the values VMCOREINFO supplies. */
export interface PageTableInfo {
  /** NUMBER(phys_base): physical address of __START_KERNEL_map's first byte, signed. */
  physBase: bigint;
  /** Physical address of init_top_pgt (the kernel's PGD). */
  pgd: bigint;
  /** 5 when NUMBER(pgtable_l5_enabled)=1, else 4. */
  levels: 4 | 5;
}

/**
 * Translates kernel virtual addresses of one dump, caching translations per page, and the last 2 MiB or 1 GiB page
 * met: a walk of vmemmap or the direct map, mapped by large pages, then walks the tables once per large page
 * instead of once per 4 KiB page (`kdump collect`'s mem_map walk: 512 walks of 4 reads each per 2 MiB of mem_map).
 */
export class PageTable {
  private readonly tlb = new Lru<bigint, bigint>(4096);
  /** The last large page: its first virtual address (-1n: none), physical address and offset mask. */
  private largeV = -1n;
  private largeP = 0n;
  private largeMask = 0n;

  constructor(
    private readonly dump: Dump,
    readonly info: PageTableInfo,
  ) {}

  /**
   * The physical address of `vaddr`; FaultError when it is not canonical, not mapped, or its page tables are not
   * in the dump.
   * @example pt.translate(vmcoreinfo.symbol("prb"))
   */
  translate(vaddr: bigint): bigint {
    if (vaddr >= START_KERNEL_MAP && vaddr < KERNEL_IMAGE_END) return vaddr - START_KERNEL_MAP + this.info.physBase;
    if ((vaddr & ~this.largeMask) === this.largeV) return this.largeP | (vaddr & this.largeMask);
    const page = vaddr & ~0xfffn;
    const hit = this.tlb.get(page);
    if (hit !== undefined) return hit | (vaddr & 0xfffn);
    const pa = this.walk(vaddr);
    this.tlb.set(page, pa & ~0xfffn);
    return pa;
  }

  /**
   * The physical address of `vaddr` and the bytes from it to the end of its mapping: of its 2 MiB or 1 GiB page when
   * the tables map it by one (vmemmap, the direct map), else of its 4 KiB page.
   * @example pt.mappedRun(memMapChunk) // { paddr, bytes: 1572864 }: the rest of a 2 MiB page
   */
  mappedRun(vaddr: bigint): MappedRun {
    const paddr = this.translate(vaddr);
    if (!(vaddr >= START_KERNEL_MAP && vaddr < KERNEL_IMAGE_END) && (vaddr & ~this.largeMask) === this.largeV)
      return { paddr, bytes: Number(this.largeMask + 1n - (vaddr & this.largeMask)) };
    return { paddr, bytes: 4096 - Number(vaddr & 0xfffn) };
  }

  private walk(vaddr: bigint): bigint {
    const bits = this.info.levels === 5 ? 57n : 48n;
    const top = vaddr >> (bits - 1n);
    if (top !== 0n && top !== (1n << (65n - bits)) - 1n) throw new FaultError("non-canonical address", vaddr);
    let table = this.info.pgd;
    for (let level: number = this.info.levels; level >= 1; level--) {
      const shift = BigInt(12 + 9 * (level - 1));
      const index = (vaddr >> shift) & 0x1ffn;
      const entry = this.entry(table + index * 8n, vaddr);
      if (!(entry & PRESENT)) throw new FaultError(`address not mapped (no ${level === this.info.levels ? "PGD" : LEVEL_NAMES[level]} entry)`, vaddr);
      if (level === 3 && entry & PSE) return this.large(vaddr, entry & MASK_1G, 0x3fffffffn);
      if (level === 2 && entry & PSE) return this.large(vaddr, entry & MASK_2M, 0x1fffffn);
      if (level === 1) return (entry & ADDR_MASK) | (vaddr & 0xfffn);
      table = entry & ADDR_MASK;
    }
    throw new FaultError("address not mapped", vaddr);
  }

  /** Remembers the large page at `base` holding `vaddr` (offset bits `mask`) and translates `vaddr` in it. */
  private large(vaddr: bigint, base: bigint, mask: bigint): bigint {
    [this.largeV, this.largeP, this.largeMask] = [vaddr & ~mask, base, mask];
    return base | (vaddr & mask);
  }

  private entry(paddr: bigint, vaddr: bigint): bigint {
    return tableEntry(this.dump, paddr, vaddr);
  }
}

const LEVEL_NAMES: Record<number, string> = { 4: "P4D", 3: "PUD", 2: "PMD", 1: "PTE" };
