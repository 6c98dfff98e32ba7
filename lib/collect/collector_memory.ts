// How much memory the Bun collector needs in the capture kernel for a box of a given RAM: a base measured on 1 GiB
// lab guests (COLLECTOR_MIN_KIB), plus the per-frame bitmaps, which are all that grows with RAM (the page_desc table
// and the pages stream to the target in 1 MiB batches, through a 1 MiB write buffer), plus the compression
// workers. `kdump load` prints it against what the reservation leaves, and `kdump estimate` adds it to its runtime
// term.
import { COLLECTOR_MIN_KIB } from "../initramfs/init.ts";

const MiB = 1048576;

/**
 * Bitmaps of one bit per page frame the collector holds at its peak: the kept frames (filter.ts), and the zero pages
 * of an ELF dump. The other frame sets are runs (present: the RAM ranges; written first: the log's and the kernel
 * image's frames), and the garbage of the mem_map walk and of compression is collected as the heap grows
 * (garbage.ts), so nothing else grows with RAM (measured by bench/scale.ts on 1, 16 and 64 GiB guests).
 */
export const COLLECTOR_BITMAPS = 2;

/** The RAM of the lab guests COLLECTOR_MIN_KIB was measured on. */
export const BASE_RAM = 1024 * MiB;

/**
 * Memory each compression Worker adds (a JS heap of its own and its batches in flight). Measured 2026-12-01 on the
 * host: `kdump collect --threads 2` peaked at ~110 MB RSS and `--threads 1` at ~94 MB on the 6.1 sysrq dump.
 */
export const WORKER_BYTES = 16 * MiB;

/** The forecast, by part. */
export interface CollectorMemory {
  /** RAM of the box whose dump is collected. */
  ram: number;
  /** What the collector needed on a 1 GiB guest (Bun, our code, buffers, its bitmaps). */
  base: number;
  /** Bitmaps beyond the 1 GiB guest's. */
  bitmaps: number;
  /** Compression workers. */
  workers: number;
  /** The sum. */
  bytes: number;
}

/**
 * Memory the collector needs for a box of `ram` bytes with `threads` compression workers (0: inline, the default
 * on the capture kernel's one CPU).
 * @example collectorMemory(64 * 2 ** 30).bytes // ~50 MiB: 46 MiB base + 3.9 MiB of bitmaps
 */
export function collectorMemory(ram: number, threads = 0, pageSize = 4096): CollectorMemory {
  const frames = (bytes: number) => Math.ceil(bytes / pageSize);
  const bitmaps = Math.max(0, Math.ceil(((frames(ram) - frames(BASE_RAM)) * COLLECTOR_BITMAPS) / 8));
  const base = COLLECTOR_MIN_KIB * 1024;
  const workers = Math.max(0, threads) * WORKER_BYTES;
  return { ram, base, bitmaps, workers, bytes: base + bitmaps + workers };
}

/** One line: the forecast and its parts, in MiB. */
export function formatCollectorMemory(m: CollectorMemory): string {
  const mib = (b: number) => `${(b / MiB).toFixed(1)} MiB`;
  const gib = Number((m.ram / 2 ** 30).toFixed(1)); // 64, not 64.0, for the 64 GiB less the firmware's holes
  return `~${mib(m.bytes)} for ${gib} GiB of RAM (base ${mib(m.base)} + bitmaps ${mib(m.bitmaps)}${m.workers ? ` + workers ${mib(m.workers)}` : ""})`;
}
