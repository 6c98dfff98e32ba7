// A compression thread (Bun Worker): takes SlotJobs, answers SlotAnswers. A batch's pages, and what they compress
// to, live in a slot the main thread shares with every worker (compress_pool.ts), so a job and its answer are a few
// numbers: the worker fills the slot's pages from the dump itself (an ELF dump, /proc/vmcore) when the job says how,
// and compresses straight into the slot. Nothing of a batch is allocated per batch or copied between threads.
import { closeSync, openSync } from "node:fs";
import { runReads, VmcoreWindows } from "../page_reader.ts";
import { compressBatch, type CompressedBatch } from "./batch.ts";
import { Slot, type SlotAnswer, type SlotJob } from "./batch_slot.ts";
import { threadCpuMs } from "../../collect/cpu_time.ts";
import { edenGC } from "bun:jsc";

declare const self: Worker;

const slots: Slot[] = [];
/** This thread's own descriptor of the dump it fills batches from (opened once, closed when the thread ends). */
let input: { path: string; fd: number; windows: VmcoreWindows | null } | undefined;
/**
 * KDUMP_THREAD_CPU=1: each answer carries this thread's CPU time by stage (compress_pool.ts sums them; the first
 * "between jobs" holds the thread's start).
 */
const STAGES = process.env.KDUMP_THREAD_CPU === "1";
let lastEnd = 0;

/**
 * Jobs between two eden collections of this thread's heap. What a job leaves (its message, the plan of reads, the
 * views of the slot) is freed only by a collection, and most of it lives outside the heap's own count (heapSize()
 * stayed at 12.7 MiB), so the engine seldom ran one: with two workers the collector's resident memory grew by 5–11
 * MiB over a collect of 185,000 pages on the host, with the pages written, not with RAM. With a collection every 32
 * jobs it stays flat. KDUMP_WORKER_EDEN_EVERY=N sets another interval (a large N shows the growth again).
 */
export const EDEN_EVERY_JOBS = Number(process.env.KDUMP_WORKER_EDEN_EVERY) || 32;
let jobs = 0;

self.onmessage = (e: MessageEvent<SlotJob>) => {
  const job = e.data;
  const t0 = STAGES ? threadCpuMs() : 0;
  try {
    if (job.memory) slots[job.slot] = new Slot(job.slot, job.slotPages!, job.pageSize, job.memory);
    const slot = slots[job.slot];
    if (!slot) throw new Error(`slot ${job.slot} was never shared with this worker`);
    const pages = slot.pages.subarray(0, job.count * job.pageSize);
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
      runReads(input.fd, job.fill.reads, pages, input.windows);
    }
    const t1 = STAGES ? threadCpuMs() : 0;
    const into: CompressedBatch = { count: 0, sizes: slot.sizes, flags: slot.flags, data: slot.data };
    const r = compressBatch({ pages, count: job.count, pageSize: job.pageSize, codec: job.codec, detectZero: job.detectZero }, into);
    if (r.data.buffer !== slot.memory) throw new Error("a batch did not fit its slot");
    const answer: SlotAnswer = { id: job.id, slot: job.slot, count: r.count, length: r.data.length };
    if (STAGES) answer.cpu = { "between jobs": t0 - lastEnd, read: t1 - t0, compress: threadCpuMs() - t1 };
    self.postMessage(answer);
    if (++jobs % EDEN_EVERY_JOBS === 0) edenGC();
    if (STAGES) lastEnd = threadCpuMs();
  } catch (err) {
    self.postMessage({ id: job.id, slot: job.slot, error: err instanceof Error ? err.message : String(err) } satisfies SlotAnswer);
  }
};
