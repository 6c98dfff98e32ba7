// The memory summary /proc/meminfo prints, from the crashed kernel's counters (mm/show_mem.c, fs/proc/meminfo.c,
// 5.14+: NR_SWAPCACHE and the _B slab counters): totalram, the global zone and node vmstat arrays, the block
// device page cache, swap and hugetlb counts. Enumerator values come from the kernel's BTF, so no table by version.
import { FaultError } from "../errors.ts";
import type { Kernel } from "./kernel.ts";
import { listForEachEntry } from "./iterators.ts";

/** Memory counts in pages, as /proc/meminfo and crash's `kmem -i` compute them. */
export interface MemInfo {
  /** Bytes per page. */
  pageSize: number;
  /** MemTotal: _totalram_pages. */
  total: number;
  /** MemFree: NR_FREE_PAGES. */
  free: number;
  /** Buffers: the page cache of block devices (nr_blockdev_pages()). */
  buffers: number;
  /** Cached: NR_FILE_PAGES minus swap cache and buffers. */
  cached: number;
  /** Shmem: NR_SHMEM. */
  shared: number;
  /** Slab: reclaimable plus unreclaimable slab pages. */
  slab: number;
  /** SwapCached: NR_SWAPCACHE. */
  swapCached: number;
  /** HugePages_Total × pages per huge page (default hstate). */
  hugeTotal: number;
  /** HugePages_Free × pages per huge page. */
  hugeFree: number;
  /** SwapTotal: total_swap_pages. */
  swapTotal: number;
  /** SwapFree: nr_swap_pages. */
  swapFree: number;
  /** CommitLimit. */
  commitLimit: number;
  /** Committed_AS: vm_committed_as. */
  committed: number;
}

/** Global node or zone vmstat item `item` (an enumerator of node_stat_item or zone_stat_item). */
function vmstat(k: Kernel, array: "vm_node_stat" | "vm_zone_stat", item: string): number {
  const i = k.program.btf.enumValue(item);
  if (i === undefined) return 0;
  const v = k.var(array).index(Number(i)).member("counter").integer();
  return v < 0n ? 0 : Number(v);
}

/** nr_blockdev_pages(): the pages cached for block device inodes (blockdev_superblock->s_inodes). */
function blockdevPages(k: Kernel): number {
  let n = 0;
  const sb = k.var("blockdev_superblock");
  if (sb.isNull()) return 0;
  for (const inode of listForEachEntry(sb.member("s_inodes"), "struct inode", "i_sb_list")) n += inode.member("i_mapping").member("nrpages").number();
  return n;
}

/**
 * The memory summary of the crashed kernel.
 * @example readMemInfo(k).total * readMemInfo(k).pageSize // MemTotal in bytes
 */
export function readMemInfo(k: Kernel): MemInfo {
  const total = k.program.symbols.lookup("_totalram_pages") !== undefined ? k.var("_totalram_pages").member("counter").number() : k.var("totalram_pages", "unsigned long").number();
  const free = vmstat(k, "vm_zone_stat", "NR_FREE_PAGES");
  let buffers = 0;
  try {
    buffers = blockdevPages(k);
  } catch (e) {
    if (!(e instanceof FaultError)) throw e;
  }
  const swapCached = vmstat(k, "vm_node_stat", "NR_SWAPCACHE");
  const cached = Math.max(0, vmstat(k, "vm_node_stat", "NR_FILE_PAGES") - swapCached - buffers);
  const slab = vmstat(k, "vm_node_stat", "NR_SLAB_RECLAIMABLE_B") + vmstat(k, "vm_node_stat", "NR_SLAB_UNRECLAIMABLE_B");
  const { hugeTotal, hugeFree } = hugePages(k);
  const swapTotal = k.var("total_swap_pages").number();
  const swapFree = k.var("nr_swap_pages").member("counter").number();
  const kbytes = k.var("sysctl_overcommit_kbytes").number();
  const pageSize = k.view.info.pageSize;
  const commitLimit = (kbytes ? kbytes / (pageSize / 1024) : Math.floor(((total - hugeTotal) * k.var("sysctl_overcommit_ratio").number()) / 100)) + swapTotal;
  const committed = Math.max(0, k.var("vm_committed_as").member("count").number());
  return { pageSize, total, free, buffers, cached, shared: vmstat(k, "vm_node_stat", "NR_SHMEM"), slab, swapCached, hugeTotal, hugeFree, swapTotal, swapFree, commitLimit, committed };
}

/** Huge pages of the default hstate, in base pages. */
function hugePages(k: Kernel): { hugeTotal: number; hugeFree: number } {
  if (k.program.symbols.lookup("hstates") === undefined || k.program.symbols.lookup("default_hstate_idx") === undefined) return { hugeTotal: 0, hugeFree: 0 };
  const t = k.type("struct hstate");
  const idx = k.var("default_hstate_idx", "unsigned int").number();
  const hs = k.object(k.symbol("hstates") + BigInt(idx * t.size), t);
  const per = 2 ** hs.member("order").number();
  return { hugeTotal: hs.member("nr_huge_pages").number() * per, hugeFree: hs.member("free_huge_pages").number() * per };
}
