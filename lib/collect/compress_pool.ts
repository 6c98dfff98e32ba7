// Page compression spread over Bun Workers, answers in submission order, with a bound on batches in flight so
// memory stays small (the capture kernel has little). With one thread it compresses inline, no Worker at all.
import { availableParallelism } from "node:os";
import { BadDataError } from "../errors.ts";
import { batchDataBytes, compressBatch, type BatchJob, type CompressedBatch } from "../dump/codecs/batch.ts";
import type { CompressName } from "../dump/codecs/compress.ts";
import { notGarbage } from "./garbage.ts";

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
  /** Page buffers the workers gave back with their answers, for the next batches. */
  private readonly spare: Uint8Array<ArrayBuffer>[] = [];
  /** The worker each answered batch's output buffer belongs to, until release() gives it back. */
  private readonly owner = new Map<ArrayBufferLike, number>();
  /** Written output buffers per worker, handed back with its next job (a message of their own cost 1.4 ms each under TCG). */
  private readonly giveBack: ArrayBuffer[][] = [];
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
      w.onmessage = (e: MessageEvent) => this.answer(i, e.data);
      w.onerror = (e) => this.failAll(new BadDataError(`compression worker failed: ${e.message}`));
      this.workers.push(w);
      this.busy.push(0);
      this.giveBack.push([]);
    }
  }

  /** How many batches may be in flight before the caller should wait for the oldest. */
  get depth(): number {
    return Math.max(1, this.threads * 2);
  }

  /**
   * Compresses `count` pages in `pages`; with workers the buffer is handed to one (do not reuse it). Inline (0
   * threads) the answer's buffers are reused by the next submit: write it out first (depth is then 1).
   * @example const b = await pool.submit(buf, 256)
   */
  submit(pages: Uint8Array, count: number, fill?: BatchJob["fill"]): Promise<CompressedBatch> {
    const job: BatchJob = { pages, count, pageSize: this.pageSize, codec: this.codec, detectZero: this.detectZero, ...(fill && { fill }) };
    if (fill && !this.threads) throw new Error("CompressPool: a batch to fill needs a worker thread");
    if (!this.threads) {
      try {
        if (!this.scratch || this.scratch.sizes.length < count || this.scratch.data.length < batchDataBytes(count, this.pageSize))
          this.scratch = { count: 0, sizes: new Uint32Array(count), flags: new Uint32Array(count), data: new Uint8Array(batchDataBytes(count, this.pageSize)) };
        return Promise.resolve(compressBatch(job, this.scratch));
      } catch (e) {
        return Promise.reject(e);
      }
    }
    const id = this.nextId++;
    let w = 0;
    for (let i = 1; i < this.workers.length; i++) if (this.busy[i]! < this.busy[w]!) w = i;
    this.busy[w]!++;
    const p = new Promise<CompressedBatch>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    p.catch(() => {}); // after a failure the caller stops awaiting: batches still in flight must not be unhandled
    const buf = pages.byteOffset === 0 && pages.byteLength === pages.buffer.byteLength ? pages : pages.slice();
    const recycle = this.giveBack[w]!.splice(0);
    this.workers[w]!.postMessage({ ...job, pages: buf, id, recycle }, [buf.buffer as ArrayBuffer, ...recycle]);
    return p;
  }

  /**
   * A buffer for the next batch's pages: one a worker gave back, or a new one. Inline (0 threads) the caller keeps
   * its own buffer.
   * @example buf = pool.pageBuffer(BATCH_PAGES * ps)
   */
  pageBuffer(bytes: number): Uint8Array<ArrayBuffer> {
    const i = this.spare.findIndex((b) => b.length === bytes);
    if (i >= 0) return this.spare.splice(i, 1)[0]!;
    this.pagesAllocated++;
    return new Uint8Array(bytes);
  }

  /** Page buffers pageBuffer() made new (the rest were given back by workers). */
  pagesAllocated = 0;

  /** Page buffers given back and not handed out again. */
  get spareCount(): number {
    return this.spare.length;
  }

  /** Gives a written batch's output buffer back to the worker that filled it, with its next job (nothing inline). */
  release(b: CompressedBatch): void {
    const w = this.owner.get(b.data.buffer);
    if (w === undefined) return;
    this.owner.delete(b.data.buffer);
    this.giveBack[w]!.push(b.data.buffer as ArrayBuffer);
  }

  private answer(worker: number, m: { id: number; error?: string; pages?: Uint8Array } & CompressedBatch): void {
    this.busy[worker]!--;
    if (m.pages) this.spare.push(new Uint8Array(m.pages.buffer as ArrayBuffer));
    notGarbage((m.pages?.buffer.byteLength ?? 0) + (m.data?.buffer.byteLength ?? 0) + (m.sizes?.buffer.byteLength ?? 0) + (m.flags?.buffer.byteLength ?? 0));
    const w = this.waiting.get(m.id);
    if (!w) return;
    this.waiting.delete(m.id);
    if (m.error) w.reject(new BadDataError(`compression failed: ${m.error}`));
    else {
      this.owner.set(m.data.buffer, worker);
      w.resolve({ count: m.count, sizes: m.sizes, flags: m.flags, data: m.data });
    }
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
