// x86_64 virtual → physical translation for a dump: the kernel image through phys_base (__pa_symbol), everything
// else (direct map, vmalloc, vmemmap, modules) by walking init_top_pgt, 4- or 5-level, with 1 GiB and 2 MiB pages.
import { FaultError } from "../../errors.ts";
import type { Dump } from "../../dump/dump.ts";
import { tableEntry } from "../table_entry.ts";
import { Lru } from "../../dump/source.ts";

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

/** Translates kernel virtual addresses of one dump, caching translations per page. */
export class PageTable {
  private readonly tlb = new Lru<bigint, bigint>(4096);

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
    const page = vaddr & ~0xfffn;
    const hit = this.tlb.get(page);
    if (hit !== undefined) return hit | (vaddr & 0xfffn);
    const pa = this.walk(vaddr);
    this.tlb.set(page, pa & ~0xfffn);
    return pa;
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
      if (level === 3 && entry & PSE) return (entry & MASK_1G) | (vaddr & 0x3fffffffn);
      if (level === 2 && entry & PSE) return (entry & MASK_2M) | (vaddr & 0x1fffffn);
      if (level === 1) return (entry & ADDR_MASK) | (vaddr & 0xfffn);
      table = entry & ADDR_MASK;
    }
    throw new FaultError("address not mapped", vaddr);
  }

  private entry(paddr: bigint, vaddr: bigint): bigint {
    return tableEntry(this.dump, paddr, vaddr);
  }
}

const LEVEL_NAMES: Record<number, string> = { 4: "P4D", 3: "PUD", 2: "PMD", 1: "PTE" };
