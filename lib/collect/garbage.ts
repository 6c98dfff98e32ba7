// The collector's own garbage collection, so its memory stays flat as RAM grows (Bun, JavaScriptCore). The mem_map
// walk and the page writer make short-lived garbage in proportion to RAM (page-table translations and their cache,
// a batch's page_descs, promises); left to the engine it grew by ~20 MiB from 1 to 16 GiB. Collecting at every step
// (an eden collection, a full one every 8) kept it flat but cost ~35% of a capture's CPU on the host and ~29% in a
// TCG lab guest (bench/scale.ts --profile, 1 GiB, 2026-12-01: gc 9.9 s + edenGC 4.4 s of a 49 s profile; a full
// collection took ~0.8 s there). Now a step collects only as the heap grows: every LOOK_EVERY steps it reads
// bun:jsc heapSize() (typed arrays included), and runs an eden collection after EDEN_GROWTH bytes, a full one after
// FULL_GROWTH bytes since the last full one. Pages are compressed into reused buffers (lib/sys/libzstd.ts), the walk
// makes no object per struct page and walks the page tables once per large page, so little garbage is left: on the
// 6.1 anon dump (1 GiB, 104 steps) 2 eden and 2 full collections instead of ~91 and ~13, with 16 filter passes still
// within 4 MiB of one (test/collect/collector_memory.test.ts). The compression workers do not use this: what their
// jobs leave lies outside heapSize()'s count, so each runs an eden collection every 32 jobs instead (batch_worker.ts).
import { edenGC, heapSize } from "bun:jsc";

/** Heap growth (bytes) since the last collection that makes a step run an eden collection. */
export const EDEN_GROWTH = 2 ** 18;
/** Heap growth (bytes) since the last full collection that makes a step run a full one. */
export const FULL_GROWTH = 2 ** 20;

/**
 * Steps between two looks at the heap's size: heapSize() sums the heap's blocks (~0.2 ms on the host with the
 * collector's heap, ~4 ms in a TCG guest), and a step adds at most ~25 KiB of garbage (a mem_map chunk's translations).
 */
export const LOOK_EVERY = 8;

/** The heap's size after the last collection of each kind, shared by every GarbageCollector of the process. */
let edenBase = heapSize();
let fullBase = edenBase;
let steps = 0;

/**
 * A counter of steps (mem_map chunks, written batches) that collects garbage as the heap grows. The growth is
 * counted from the last collection of any of them, so garbage a finished walk left is counted by the next one.
 */
export class GarbageCollector {
  /** Collections made by this one, eden and full. */
  eden = 0;
  full = 0;

  /** Called once per step: every LOOK_EVERY steps, collects when the heap grew enough since the last collection. */
  step(): void {
    if (++steps % LOOK_EVERY) return;
    const h = heapSize();
    if (h - fullBase >= FULL_GROWTH) {
      Bun.gc(true);
      this.full++;
      fullBase = edenBase = heapSize();
    } else if (h - edenBase >= EDEN_GROWTH) {
      edenGC();
      this.eden++;
      edenBase = heapSize();
    }
  }
}
