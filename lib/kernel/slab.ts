// SLUB caches (mm/slub.c, 5.17+ struct slab; older kernels kept the same counts in struct page): every cache on
// slab_caches with its object size, slab order and the object counts /proc/slabinfo prints (num_objs from each
// node's total_objects, active_objs = num_objs minus the free objects of the node partial lists).
import type { Kernel } from "./kernel.ts";
import { listForEachEntry } from "./iterators.ts";
import type { KernelObject } from "./object.ts";

/** One slab cache, as /proc/slabinfo and crash's `kmem -s` see it. */
export interface SlabCache {
  /** Address of its struct kmem_cache. */
  address: bigint;
  /** Cache name. */
  name: string;
  /** Size of an object as allocated (object_size). */
  objectSize: number;
  /** Bytes an object takes in the slab (size, with metadata). */
  size: number;
  /** Objects in use (slabinfo's active_objs). */
  active: number;
  /** Objects in all slabs (slabinfo's num_objs). */
  total: number;
  /** Slabs of this cache. */
  slabs: number;
  /** Bytes of one slab (PAGE_SIZE << order). */
  slabSize: number;
}

/**
 * Every slab cache, in slab_caches order (newest first).
 * @example readSlabCaches(k).find((c) => c.name === "task_struct")?.active
 */
export function readSlabCaches(k: Kernel): SlabCache[] {
  const out: SlabCache[] = [];
  const pageSize = k.view.info.pageSize;
  for (const c of listForEachEntry(k.var("slab_caches"), "struct kmem_cache", "list")) {
    let total = 0;
    let slabs = 0;
    let free = 0;
    const nodes = c.member("node");
    for (let i = 0; i < nodes.type.length; i++) {
      const n = nodes.index(i);
      if (n.isNull()) break;
      const node = n.deref();
      total += node.member("total_objects").member("counter").number();
      slabs += node.member("nr_slabs").member("counter").number();
      free += partialFree(node);
    }
    const oo = c.member("oo").member("x").number();
    out.push({
      address: c.address!,
      name: c.member("name").string(64),
      objectSize: c.member("object_size").number(),
      size: c.member("size").number(),
      active: total - free,
      total,
      slabs,
      slabSize: pageSize << (oo >>> 16),
    });
  }
  return out;
}

/** Free objects on a kmem_cache_node's partial list (count_partial(n, count_free)). */
function partialFree(node: KernelObject): number {
  let free = 0;
  for (const s of listForEachEntry(node.member("partial"), "struct slab", "slab_list")) free += s.member("objects").number() - s.member("inuse").number();
  return free;
}
