// arm64 virtual → physical translation for a dump: walks swapper_pg_dir (TTBR1, the kernel's half) for 4K, 16K
// and 64K granules, 3 to 5 levels, with block entries, and LPA2's 52-bit output addresses (4K/16K pages with
// 52-bit VA, Linux 6.9+). Everything comes from VMCOREINFO: VA_BITS, TCR_EL1_T1SZ (5.13+), kimage_voffset.
import { FaultError } from "../../errors.ts";
import type { Dump } from "../../dump/dump.ts";
import { tableEntry } from "../table_entry.ts";
import { Lru } from "../../dump/source.ts";

/** How to translate: the values VMCOREINFO supplies. */
export interface Arm64PageTableInfo {
  /** Physical address of swapper_pg_dir. */
  pgd: bigint;
  /** The VA bits the MMU uses for TTBR1: 64 - TCR_EL1_T1SZ, else NUMBER(VA_BITS). */
  vaBits: number;
  /** PAGESIZE: 4096, 16384 or 65536. */
  pageSize: number;
}

/** The walk's shape: page shift, bits resolved per level, how many levels, and LPA2's address format. */
export interface Arm64Geometry {
  pageShift: number;
  bitsPerLevel: number;
  levels: number;
  /** True when descriptors carry output address bits 51:50 in bits 9:8 (FEAT_LPA2, 4K/16K pages, 52-bit VA). */
  lpa2: boolean;
}

/**
 * The walk for a page size and VA size: 4K/48-bit → 4 levels; 4K/52-bit → 5 levels with LPA2; 64K/48 → 3 levels.
 * @example arm64Geometry(4096, 52) // { pageShift: 12, bitsPerLevel: 9, levels: 5, lpa2: true }
 */
export function arm64Geometry(pageSize: number, vaBits: number): Arm64Geometry {
  const pageShift = Math.log2(pageSize);
  if (![12, 14, 16].includes(pageShift)) throw new RangeError(`arm64 page size ${pageSize} is not 4K, 16K or 64K`);
  if (vaBits < 36 || vaBits > 52) throw new RangeError(`arm64 VA bits ${vaBits} out of range 36–52`);
  const bitsPerLevel = pageShift - 3;
  return { pageShift, bitsPerLevel, levels: Math.ceil((vaBits - pageShift) / bitsPerLevel), lpa2: pageShift !== 16 && vaBits > 48 };
}

/**
 * The output address of a descriptor: bits 47:pageShift; with LPA2 also bits 49:48 in place and 51:50 from
 * descriptor bits 9:8; with 64K pages and 52-bit PA (FEAT_LPA), bits 51:48 from descriptor bits 15:12.
 */
export function outputAddress(desc: bigint, g: Arm64Geometry, shift: number): bigint {
  const low = (desc & ((1n << 50n) - 1n)) & ~((1n << BigInt(shift)) - 1n);
  if (g.lpa2) return low | (((desc >> 8n) & 3n) << 50n);
  const base = low & ((1n << 48n) - 1n);
  return g.pageShift === 16 ? base | (((desc >> 12n) & 0xfn) << 48n) : base;
}

/** Translates kernel virtual addresses of one dump through swapper_pg_dir, caching translations per page. */
export class Arm64PageTable {
  private readonly tlb = new Lru<bigint, bigint>(4096);
  readonly geometry: Arm64Geometry;
  private readonly pageMask: bigint;

  constructor(
    private readonly dump: Dump,
    readonly info: Arm64PageTableInfo,
  ) {
    this.geometry = arm64Geometry(info.pageSize, info.vaBits);
    this.pageMask = BigInt(info.pageSize - 1);
  }

  /**
   * The physical address of `vaddr` (a TTBR1 address: its bits above vaBits all set); FaultError when it is not
   * mapped or its tables are not in the dump.
   * @example pt.translate(vmcoreinfo.symbol("prb"))
   */
  translate(vaddr: bigint): bigint {
    const page = vaddr & ~this.pageMask;
    const hit = this.tlb.get(page);
    if (hit !== undefined) return hit | (vaddr & this.pageMask);
    const pa = this.walk(vaddr);
    this.tlb.set(page, pa & ~this.pageMask);
    return pa;
  }

  private walk(vaddr: bigint): bigint {
    const g = this.geometry;
    const va = BigInt(this.info.vaBits);
    if (vaddr >> va !== (1n << (64n - va)) - 1n) throw new FaultError(`not a kernel (TTBR1) address for ${this.info.vaBits}-bit VA`, vaddr);
    let table = this.info.pgd;
    for (let i = 0; i < g.levels; i++) {
      const left = g.levels - 1 - i; // levels below this one
      const shift = g.pageShift + g.bitsPerLevel * left;
      const width = i === 0 ? this.info.vaBits - shift : g.bitsPerLevel;
      const index = (vaddr >> BigInt(shift)) & ((1n << BigInt(width)) - 1n);
      const desc = this.entry(table + index * 8n, vaddr);
      const kind = desc & 3n;
      if ((desc & 1n) === 0n) throw new FaultError(`address not mapped (invalid level ${4 - g.levels + i} descriptor)`, vaddr);
      if (left === 0) {
        if (kind !== 3n) throw new FaultError("address not mapped (reserved page descriptor)", vaddr);
        return outputAddress(desc, g, shift) | (vaddr & this.pageMask);
      }
      if (kind === 1n) return outputAddress(desc, g, shift) | (vaddr & ((1n << BigInt(shift)) - 1n)); // block
      table = outputAddress(desc, g, g.pageShift);
    }
    throw new FaultError("address not mapped", vaddr);
  }

  private entry(paddr: bigint, vaddr: bigint): bigint {
    return tableEntry(this.dump, paddr, vaddr);
  }
}
