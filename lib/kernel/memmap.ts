// mem_map: where each page frame's struct page lives, and the struct page fields and page-flag numbers the
// dump filter reads, all from VMCOREINFO. x86_64 SPARSEMEM (VMEMMAP or the mem_section table), 4.x to 6.12+.
import { BadDataError } from "../errors.ts";
import type { KernelView } from "./view.ts";
import type { Vmcoreinfo } from "./vmcoreinfo.ts";

/** A run of page frames whose struct pages are contiguous in kernel virtual memory. */
export interface MemMapSection {
  /** First page frame number. */
  startPfn: number;
  /** One past the last page frame number. */
  endPfn: number;
  /** Virtual address of startPfn's struct page. */
  vaddr: bigint;
}

/** Where compound_order lives in the first tail page (page[1]) of a compound page. */
export type OrderField =
  /** A byte at this offset of page[1]: page.compound_order (≤ 6.2) or folio._folio_order (6.3–6.5). */
  | { kind: "byte"; offset: number }
  /** The low byte of page[1].flags, folio._flags_1 (6.6+: commit ebc1baf5c9b4 "mm: free up a word in the first tail page"). */
  | { kind: "flags1" };

/** How hugetlb pages are marked, newest first. */
export type HugetlbMark =
  /** The head's page type: _mapcount == PAGE_HUGETLB_MAPCOUNT_VALUE (6.9+, commit d99e3140a4d3). */
  | { kind: "type"; value: number }
  /** PG_hugetlb in page[1].flags (6.6–6.8). */
  | { kind: "flag"; bit: number }
  /** page[1]'s compound_dtor byte == HUGETLB_PAGE_DTOR (4.16–6.5). */
  | { kind: "dtor"; offset: number; value: number }
  | { kind: "none" };

/** struct page as VMCOREINFO describes it, and the page-flag numbers the filter tests. */
export interface PageLayout {
  /** SIZE(page). */
  size: number;
  /** OFFSET(page.flags). */
  flags: number;
  /** OFFSET(page.mapping). */
  mapping: number;
  /** OFFSET(page._mapcount) (page_type shares it). */
  mapcount: number;
  /** OFFSET(page.private). */
  private: number;
  /** OFFSET(page.compound_head), OFFSET(page.compound_info) from 7.x: bit 0 set in tail pages either way. */
  compoundHead: number;
  /** NUMBER(PG_lru). */
  pgLru: number;
  /** NUMBER(PG_private). */
  pgPrivate: number;
  /** NUMBER(PG_swapcache). */
  pgSwapcache: number;
  /** NUMBER(PG_swapbacked), or -1 before 4.10 (then PG_swapcache alone counts). */
  pgSwapbacked: number;
  /** NUMBER(PG_slab), or -1 (6.10+ marks slab by page type). */
  pgSlab: number;
  /** NUMBER(PG_hwpoison), or -1 without CONFIG_MEMORY_FAILURE. */
  pgHwpoison: number;
  /** NUMBER(PG_head_mask), the head-page bit of flags: its low 32 bits. */
  headMaskLo: number;
  /** …and its high 32 bits. */
  headMaskHi: number;
  /** PAGE_BUDDY_MAPCOUNT_VALUE, or null. */
  buddyType: number | null;
  /** PAGE_OFFLINE_MAPCOUNT_VALUE, or null. */
  offlineType: number | null;
  /** PAGE_SLAB_MAPCOUNT_VALUE (6.10+), or null. */
  slabType: number | null;
  /** LENGTH(zone.free_area): orders above it are not buddy orders. */
  maxOrder: number;
  /** Where compound pages keep their order. */
  order: OrderField;
  /** How hugetlb pages are marked. */
  hugetlb: HugetlbMark;
}

/**
 * The struct page layout of the dump's kernel. Throws MissingDataError naming the first VMCOREINFO key that
 * is missing (such a kernel cannot be filtered by page type).
 * @example pageLayout(kernel.info).size  // 64
 */
export function pageLayout(info: Vmcoreinfo): PageLayout {
  const opt = (name: string): number | null => {
    const v = info.numbers.get(name);
    return v === undefined ? null : Number(BigInt.asIntN(32, v));
  };
  const size = info.size("page");
  const order: OrderField = info.offsets.has("folio._folio_order")
    ? { kind: "byte", offset: info.offset("folio._folio_order") - size }
    : info.offsets.has("page.compound_order")
      ? { kind: "byte", offset: info.offset("page.compound_order") }
      : { kind: "flags1" };
  const dtorOffset = info.offsets.has("folio._folio_dtor")
    ? info.offset("folio._folio_dtor") - size
    : info.offsets.get("page.compound_dtor");
  let hugetlb: HugetlbMark = { kind: "none" };
  if (opt("PAGE_HUGETLB_MAPCOUNT_VALUE") !== null) hugetlb = { kind: "type", value: opt("PAGE_HUGETLB_MAPCOUNT_VALUE")! };
  else if (opt("PG_hugetlb") !== null) hugetlb = { kind: "flag", bit: opt("PG_hugetlb")! };
  else if (opt("HUGETLB_PAGE_DTOR") !== null && dtorOffset !== undefined) hugetlb = { kind: "dtor", offset: dtorOffset, value: opt("HUGETLB_PAGE_DTOR")! };
  return {
    size,
    flags: info.offset("page.flags"),
    mapping: info.offset("page.mapping"),
    mapcount: info.offset("page._mapcount"),
    private: info.offset("page.private"),
    // 7.x renamed compound_head to compound_info (a head pointer or, with HVO, a mask; bit 0 still marks a tail)
    compoundHead: info.offsets.has("page.compound_head") ? info.offset("page.compound_head") : info.offset("page.compound_info"),
    pgLru: Number(info.number("PG_lru")),
    pgPrivate: Number(info.number("PG_private")),
    pgSwapcache: Number(info.number("PG_swapcache")),
    pgSwapbacked: opt("PG_swapbacked") ?? -1,
    pgSlab: opt("PG_slab") ?? -1,
    pgHwpoison: opt("PG_hwpoison") ?? -1,
    headMaskLo: Number(info.number("PG_head_mask") & 0xffffffffn),
    headMaskHi: Number((info.number("PG_head_mask") >> 32n) & 0xffffffffn),
    buddyType: opt("PAGE_BUDDY_MAPCOUNT_VALUE"),
    offlineType: opt("PAGE_OFFLINE_MAPCOUNT_VALUE"),
    slabType: opt("PAGE_SLAB_MAPCOUNT_VALUE"),
    maxOrder: info.lengths.get("zone.free_area") ?? 11,
    order,
    hugetlb,
  };
}

/** section_mem_map flag bits below the encoded address (SECTION_MAP_LAST_BIT is 1 << 5 since 4.13). */
const SECTION_MAP_MASK = ~0x1fn;
const SECTION_MARKED_PRESENT = 1n;

/** True for an address in the kernel half of the address space (direct map, vmemmap, vmalloc, text). */
function isKernelAddress(a: bigint): boolean {
  return a >= 0xff00000000000000n;
}

/**
 * The mem_map sections covering page frames [0, maxPfn): from SYMBOL(vmemmap) when the kernel exports it
 * (one section), else by walking mem_section (SPARSEMEM_EXTREME roots, then each section's encoded
 * section_mem_map). Sections without memory are left out.
 * @example memMapSections(kernel, 0x40000)
 */
export function memMapSections(k: KernelView, maxPfn: number): MemMapSection[] {
  const info = k.info;
  const pageSize = info.size("page");
  const vmemmap = info.symbols.get("vmemmap");
  if (vmemmap !== undefined) return [{ startPfn: 0, endPfn: maxPfn, vaddr: vmemmap }];
  const sectionBits = Number(info.number("SECTION_SIZE_BITS"));
  const perSection = 2 ** (sectionBits - Math.log2(info.pageSize));
  const memSection = info.symbol("mem_section");
  const msSize = info.size("mem_section");
  const mapOffset = info.offset("mem_section.section_mem_map");
  const perRoot = Math.floor(info.pageSize / msSize);
  const count = Math.ceil(maxPfn / perSection);
  // SYMBOL(mem_section) is the root array itself (VMCOREINFO); with an older vmlinux-style value it is a
  // pointer to it. Try the array first, as makedumpfile does.
  const attempt = (roots: bigint): MemMapSection[] | null => {
    const out: MemMapSection[] = [];
    let valid = false;
    for (let nr = 0; nr < count; nr++) {
      const root = k.u64(roots + BigInt(Math.floor(nr / perRoot) * 8));
      if (root === 0n) continue;
      if (!isKernelAddress(root)) return null;
      const coded = k.u64(root + BigInt((nr % perRoot) * msSize + mapOffset));
      if (!(coded & SECTION_MARKED_PRESENT)) continue;
      const startPfn = nr * perSection;
      const vaddr = BigInt.asUintN(64, (coded & SECTION_MAP_MASK) + BigInt(startPfn) * BigInt(pageSize));
      if (!isKernelAddress(vaddr)) return null;
      valid = true;
      out.push({ startPfn, endPfn: Math.min(startPfn + perSection, maxPfn), vaddr });
    }
    return valid ? out : null;
  };
  const found = attempt(memSection) ?? (isKernelAddress(k.u64(memSection)) ? attempt(k.u64(memSection)) : null);
  if (!found) throw new BadDataError("mem_section holds no valid mem_map", { hint: "the dump's VMCOREINFO or memory is damaged; collect with --level 0 or 1" });
  return found;
}
