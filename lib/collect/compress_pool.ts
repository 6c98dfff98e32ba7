// Page compression spread over Bun Workers, answers in submission order, with a bound on batches in flight so
// memory stays small (the capture kernel has little). With one thread it compresses inline, no Worker at all.
import { availableParallelism } from "node:os";
import { BadDataError } from "../errors.ts";
import { batchDataBytes, compressBatch, type BatchJob, type CompressedBatch } from "../dump/codecs/batch.ts";
import type { CompressName } from "../dump/codecs/compress.ts";
import { Slot, type SlotAnswer, type SlotJob } from "../dump/codecs/batch_slot.ts";
import { formatStages } from "./cpu_time.ts";

/**
 * Compression threads by default: one per CPU, at most 8 (the reader mostly waits in the kernel's copy of
 * /proc/vmcore); none on one CPU, where a Worker would only add its memory.
 */
export function defaultThreads(cpus = availableParallelism()): number {
  return cpus <= 1 ? 0 : Math.min(8, cpus);
}

/**
 * The worker's script: beside this module when run from source; in the single binary `npm run build` makes
 * (`bun build --compile`, which takes the worker as a second entry point), that entry, named from the project root.
 */
export function workerScript(moduleUrl: string): string {
  return moduleUrl.startsWith("file:///$bunfs/") ? "./lib/dump/codecs/batch_worker.ts" : new URL("../dump/codecs/batch_worker.ts", moduleUrl).href;
}

/** A running set of compression workers (or the inline compressor when threads is 0). */
export class CompressPool {
  private readonly workers: Worker[] = [];
  private readonly waiting = new Map<number, { resolve: (b: CompressedBatch) => void; reject: (e: Error) => void }>();
  private readonly busy: number[] = [];
  private nextId = 0;
  private readonly slots: Slot[] = [];
  /** Slots neither being filled, in a worker, nor answered and not yet released. */
  private readonly free: Slot[] = [];
  /** Each slot by its memory (a page buffer's or an answer's `.buffer`). */
  private readonly slotOf = new Map<ArrayBufferLike, Slot>();
  /** Slots each worker has been given the memory of. */
  private readonly known: Set<number>[] = [];
  /** Inline, the buffers every batch is compressed into: an answer is valid until the next submit. */
  private scratch?: CompressedBatch;

  constructor(
    /** Worker threads; 0 compresses on the calling thread. */
    readonly threads: number,
    private readonly codec: CompressName,
    private readonly pageSize: number,
    private readonly detectZero: boolean,
  ) {
    for (let i = 0; i < threads; i++) {
      const w = new Worker(workerScript(import.meta.url));
      w.onmessage = (e: MessageEvent<SlotAnswer>) => this.answer(i, e.data);
      w.onerror = (e) => this.failAll(new BadDataError(`compression worker failed: ${e.message}`));
      this.workers.push(w);
      this.busy.push(0);
      this.known.push(new Set());
    }
  }

  /** How many batches may be in flight before the caller should wait for the oldest. */
  get depth(): number {
    return Math.max(1, this.threads * 2);
  }

  /**
   * Compresses `count` pages in `pages`. With workers, `pages` should come from pageBuffer() (any other array is
   * copied into one) and belongs to the pool from now on. Inline (0 threads) the answer's buffers are reused by the
   * next submit: write it out first (depth is then 1).
   * @example const b = await pool.submit(buf, 256)
   */
  submit(pages: Uint8Array, count: number, fill?: BatchJob["fill"]): Promise<CompressedBatch> {
    if (fill && !this.threads) throw new Error("CompressPool: a batch to fill needs a worker thread");
    if (!this.threads) {
      const job: BatchJob = { pages, count, pageSize: this.pageSize, codec: this.codec, detectZero: this.detectZero };
      try {
        if (!this.scratch || this.scratch.sizes.length < count || this.scratch.data.length < batchDataBytes(count, this.pageSize))
          this.scratch = { count: 0, sizes: new Uint32Array(count), flags: new Uint32Array(count), data: new Uint8Array(batchDataBytes(count, this.pageSize)) };
        return Promise.resolve(compressBatch(job, this.scratch));
      } catch (e) {
        return Promise.reject(e);
      }
    }
    let slot = this.slotOf.get(pages.buffer);
    if (!slot || slot.count < count || pages.byteOffset !== 0) {
      if (slot) this.free.push(slot);
      const from = pages.subarray(0, count * this.pageSize);
      slot = this.takeSlot(count);
      slot.pages.set(from);
    }
    const id = this.nextId++;
    let w = 0;
    for (let i = 1; i < this.workers.length; i++) if (this.busy[i]! < this.busy[w]!) w = i;
    this.busy[w]!++;
    const p = new Promise<CompressedBatch>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    p.catch(() => {}); // after a failure the caller stops awaiting: batches still in flight must not be unhandled
    const job: SlotJob = { id, slot: slot.index, count, pageSize: this.pageSize, codec: this.codec, detectZero: this.detectZero, ...(fill && { fill }) };
    if (!this.known[w]!.has(slot.index)) {
      this.known[w]!.add(slot.index);
      job.memory = slot.memory;
      job.slotPages = slot.count;
    }
    this.workers[w]!.postMessage(job);
    return p;
  }

  /**
   * The page array of a free slot, for the next batch's pages (a new slot when none is free). Inline (0 threads)
   * the caller keeps its own buffer.
   * @example buf = pool.pageBuffer(BATCH_PAGES * ps)
   */
  pageBuffer(bytes: number): Uint8Array {
    return this.takeSlot(Math.ceil(bytes / this.pageSize)).pages.subarray(0, bytes);
  }

  private takeSlot(count: number): Slot {
    const i = this.free.findIndex((s) => s.count >= count);
    if (i >= 0) return this.free.splice(i, 1)[0]!;
    const slot = new Slot(this.slots.length, count, this.pageSize);
    this.slots.push(slot);
    this.slotOf.set(slot.memory, slot);
    return slot;
  }

  /** Slots made so far: the batches' memory is this many times one slot's, however many batches there were. */
  get slotCount(): number {
    return this.slots.length;
  }

  /** Frees a written batch's slot for a later batch (nothing inline). */
  release(b: CompressedBatch): void {
    const slot = this.slotOf.get(b.data.buffer);
    if (slot && !this.free.includes(slot)) this.free.push(slot);
  }

  /** The workers' CPU ms by stage, summed over their answers (KDUMP_THREAD_CPU=1; none otherwise). */
  private readonly stages = new Map<string, number>();
  stageReport(): string {
    return formatStages(this.stages);
  }

  private answer(worker: number, m: SlotAnswer): void {
    this.busy[worker]!--;
    if (m.cpu) for (const [k, v] of Object.entries(m.cpu)) this.stages.set(k, (this.stages.get(k) ?? 0) + v);
    const w = this.waiting.get(m.id);
    if (!w) return;
    this.waiting.delete(m.id);
    const slot = this.slots[m.slot]!;
    if (m.error) {
      this.free.push(slot);
      w.reject(new BadDataError(`compression failed: ${m.error}`));
      return;
    }
    w.resolve({ count: m.count!, sizes: slot.sizes.subarray(0, m.count!), flags: slot.flags.subarray(0, m.count!), data: slot.data.subarray(0, m.length!) });
  }

  private failAll(e: Error): void {
    for (const w of this.waiting.values()) w.reject(e);
    this.waiting.clear();
  }

  /** Stops the workers; batches still in flight are dropped. */
  close(): void {
    for (const w of this.workers) w.terminate();
    this.failAll(new BadDataError("compression stopped before the batch was done"));
  }
}
