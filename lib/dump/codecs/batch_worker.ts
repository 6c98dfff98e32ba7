// A compression thread (Bun Worker): takes BatchJobs, answers CompressedBatches, buffers transferred both ways.
import { compressBatch, type BatchJob } from "./batch.ts";

declare const self: Worker;

/** A job as posted to the worker: the batch and its id. */
export interface WorkerJob extends BatchJob {
  /** Sequence number, echoed in the answer. */
  id: number;
}

self.onmessage = (e: MessageEvent<WorkerJob>) => {
  const job = e.data;
  try {
    const r = compressBatch(job);
    const data = r.data.slice(); // exactly the stored bytes, in a buffer of their own
    self.postMessage({ id: job.id, count: r.count, sizes: r.sizes, flags: r.flags, data }, [data.buffer, r.sizes.buffer, r.flags.buffer] as ArrayBuffer[]);
  } catch (err) {
    self.postMessage({ id: job.id, error: err instanceof Error ? err.message : String(err) });
  }
};
