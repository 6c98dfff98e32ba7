// What an address is: a symbol of the kernel image, an object of a slab cache (its struct page → slab →
// kmem_cache; PG_slab up to 6.9, the slab page type from 6.10), or another page of the direct map. struct page
// layout and page flags from VMCOREINFO (memmap.ts), slab structures from BTF.
import { FaultError } from "../errors.ts";
import type { Kernel } from "./kernel.ts";
import { memMapSections, pageLayout } from "./memmap.ts";

/** What `kmem ADDR` found. */
export interface AddressInfo {
  /** The address asked about. */
  address: bigint;
  /** "symbol", "slab", "page" or "unknown". */
  kind: "symbol" | "slab" | "page" | "unknown";
  /** Symbol name+offset, or the slab cache's name. */
  name?: string;
  /** Start of the slab object holding the address. */
  object?: bigint;
  /** Its struct page. */
  page?: bigint;
  /** crash-like text. */
  text: string;
}

const h = (v: bigint) => v.toString(16).padStart(16, "0");
const KERNEL_IMAGE = 0xffffffff80000000n;

/**
 * What `addr` is in the crashed kernel.
 * @example whatIsAddress(k, k.symbol("init_task")).kind // "symbol"
 */
export function whatIsAddress(k: Kernel, addr: bigint): AddressInfo {
  if (addr >= KERNEL_IMAGE) {
    const hit = k.program.symbols.symbolize(addr);
    if (hit && (!hit.size || hit.offset < hit.size)) {
      const name = hit.offset ? `${hit.name}+${hit.offset}` : hit.name;
      return { address: addr, kind: "symbol", name, text: `${h(addr)} (${hit.type}) ${name}` };
    }
  }
  const pob = k.program.symbols.lookup("page_offset_base");
  if (pob === undefined) return { address: addr, kind: "unknown", text: `${h(addr)}: not a kernel symbol` };
  const base = k.view.u64(pob);
  let phys: bigint;
  try {
    phys = k.view.translate(addr);
  } catch (e) {
    if (!(e instanceof FaultError)) throw e;
    return { address: addr, kind: "unknown", text: `${h(addr)}: not mapped in the dump` };
  }
  const layout = pageLayout(k.view.info);
  const pfn = Number(phys >> 12n);
  const maxPfn = Number(k.var("max_pfn").integer());
  const section = memMapSections(k.view, maxPfn).find((s) => pfn >= s.startPfn && pfn < s.endPfn);
  if (!section) return { address: addr, kind: "unknown", text: `${h(addr)}: page frame ${pfn} has no struct page` };
  let page = section.vaddr + BigInt((pfn - section.startPfn) * layout.size);
  const head = k.view.u64(page + BigInt(layout.compoundHead));
  if (head & 1n) page = head - 1n;
  const flags = k.view.u64(page + BigInt(layout.flags));
  const type = k.view.u32(page + BigInt(layout.mapcount));
  const isSlab = layout.pgSlab >= 0 ? ((flags >> BigInt(layout.pgSlab)) & 1n) === 1n : layout.slabType !== null && type >>> 24 === (layout.slabType >>> 24) >>> 0;
  if (isSlab) {
    const slab = k.object(page, "struct slab");
    const cache = slab.member("slab_cache").deref();
    const name = cache.member("name").string(64);
    const size = BigInt(cache.member("size").number());
    const headPfn = (page - section.vaddr) / BigInt(layout.size) + BigInt(section.startPfn);
    const start = base + (headPfn << 12n);
    const object = start + ((addr - start) / size) * size;
    return { address: addr, kind: "slab", name, object, page, text: `CACHE: ${name}  OBJECT: ${h(object)}  SIZE: ${size}  PAGE: ${h(page)}  (${h(addr)} is ${addr - object} bytes into it)` };
  }
  return { address: addr, kind: "page", page, text: `PAGE: ${h(page)}  PHYSICAL: ${phys.toString(16)}  FLAGS: ${flags.toString(16)}` };
}
