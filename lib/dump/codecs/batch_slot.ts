// A batch's memory shared between the collector's main thread and its compression workers, and the two messages
// they exchange about it (compress_pool.ts posts jobs, batch_worker.ts answers).
import { batchDataBytes, type BatchJob } from "./batch.ts";
import type { CompressName } from "./compress.ts";

/**
 * One batch's memory, shared with every worker (a SharedArrayBuffer): the pages, then the stored bytes, the sizes
 * and the flags the worker compresses them into. A job and its answer are a few numbers; the batch's bytes never
 * move between threads. (Transferring a 1 MiB page buffer and an output buffer each way cost ~110 µs a batch more
 * than a message of numbers on the host, and under TCG the main thread spent 4.9 s of a 64 GiB capture's CPU
 * posting and receiving them, the workers 3.7 s.)
 */
export class Slot {
  readonly pages: Uint8Array;
  readonly data: Uint8Array;
  readonly sizes: Uint32Array;
  readonly flags: Uint32Array;

  constructor(
    readonly index: number,
    readonly count: number,
    pageSize: number,
    readonly memory = new SharedArrayBuffer(Slot.bytes(count, pageSize)),
  ) {
    const dataBytes = batchDataBytes(count, pageSize);
    const dataAt = count * pageSize;
    const wordsAt = dataAt + Math.ceil(dataBytes / 4) * 4;
    this.pages = new Uint8Array(memory, 0, dataAt);
    this.data = new Uint8Array(memory, dataAt, dataBytes);
    this.sizes = new Uint32Array(memory, wordsAt, count);
    this.flags = new Uint32Array(memory, wordsAt + count * 4, count);
  }

  /** The memory a slot of `count` pages takes: the pages, the stored bytes (rounded to words), sizes and flags. */
  static bytes(count: number, pageSize: number): number {
    return count * pageSize + Math.ceil(batchDataBytes(count, pageSize) / 4) * 4 + count * 8;
  }
}

/** A job as posted to a worker: which slot, how many of its pages, and how to fill them. */
export interface SlotJob {
  id: number;
  slot: number;
  /** The slot's memory, the first time this worker is given it. */
  memory?: SharedArrayBuffer;
  /** Pages the slot was made for (with memory). */
  slotPages?: number;
  count: number;
  pageSize: number;
  codec: CompressName;
  detectZero: boolean;
  fill?: BatchJob["fill"];
}

/** A worker's answer: the slot holds `count` sizes and flags and `length` stored bytes. */
export interface SlotAnswer {
  id: number;
  slot: number;
  count?: number;
  length?: number;
  error?: string;
  cpu?: Record<string, number>;
}
