// A compression thread (Bun Worker): takes BatchJobs, answers CompressedBatches, buffers transferred both ways and
// reused. A batch compresses into this thread's scratch, and its stored bytes are copied into an output buffer the
// main thread gives back once written (with a later job's recycle); the job's page buffer goes back with the answer. With a new
// buffer per batch each way (1 MiB of pages, a batch's worth of output) `collect --threads 2` peaked at 100 MB RSS
// on a 1 GiB lab dump; reused, at 82 MB (the same bytes written, 2026-12-02).
import { closeSync, openSync } from "node:fs";
import { runReads, VmcoreWindows } from "../page_reader.ts";
import { batchDataBytes, compressBatch, type BatchJob, type CompressedBatch } from "./batch.ts";

declare const self: Worker;

/** A job as posted to the worker: the batch and its id. */
export interface WorkerJob extends BatchJob {
  /** Sequence number, echoed in the answer. */
  id: number;
  /** Output buffers of earlier answers, written out and handed back. */
  recycle?: ArrayBuffer[];
}


let scratch: CompressedBatch | undefined;
/** This thread's own descriptor of the dump it fills batches from (opened once, closed when the thread ends). */
let input: { path: string; fd: number; windows: VmcoreWindows | null } | undefined;
const spare: ArrayBuffer[] = [];

self.onmessage = (e: MessageEvent<WorkerJob>) => {
  const job = e.data;
  if (job.recycle) spare.push(...job.recycle);
  try {
    if (job.fill) {
      if (input?.path !== job.fill.path) {
        if (input) {
          input.windows?.close();
          closeSync(input.fd);
        }
        const fd = openSync(job.fill.path, "r");
        // without mmap here, the windows map nothing and every read goes by pread
        input = { path: job.fill.path, fd, windows: job.fill.map ? new VmcoreWindows(fd) : null };
      }
      runReads(input.fd, job.fill.reads, job.pages, input.windows);
    }
    const need = batchDataBytes(job.count, job.pageSize);
    if (!scratch || scratch.sizes.length < job.count || scratch.data.length < need)
      scratch = { count: 0, sizes: new Uint32Array(job.count), flags: new Uint32Array(job.count), data: new Uint8Array(need) };
    const r = compressBatch(job, scratch);
    // exactly the stored bytes, in a buffer the main thread owns until it gives it back
    const i = spare.findIndex((b) => b.byteLength >= r.data.length);
    const buf = i >= 0 ? spare.splice(i, 1)[0]! : new ArrayBuffer(Math.max(r.data.length, need));
    const data = new Uint8Array(buf, 0, r.data.length);
    data.set(r.data);
    const sizes = r.sizes.slice();
    const flags = r.flags.slice();
    self.postMessage({ id: job.id, count: r.count, sizes, flags, data, pages: job.pages }, [buf, sizes.buffer, flags.buffer, job.pages.buffer] as ArrayBuffer[]);
  } catch (err) {
    self.postMessage({ id: job.id, error: err instanceof Error ? err.message : String(err) });
  }
};
