// Compression of a batch of pages for the kdump-compressed writer, the unit of work a compression thread
// takes: each page compressed alone (page_desc points at it), stored raw when that does not make it smaller,
// and zero pages only marked when the dump level drops them (the writer shares one zero page among them).
import { intoRoom, pageCompressor, type CompressName, type PageCompressor } from "./compress.ts";

/** What to do with a batch. */
export interface BatchJob {
  /** The pages, back to back. */
  pages: Uint8Array;
  /** Pages in the batch. */
  count: number;
  /** Page size. */
  pageSize: number;
  /** The codec. */
  codec: CompressName;
  /** Mark pages filled with zeros instead of compressing them (dump level bit 1). */
  detectZero: boolean;
  /**
   * For a worker thread: fill `pages` first from this file (an ELF dump, /proc/vmcore) by a PageReader plan
   * ([file offset or -1 for zeros, length, buffer offset] triples), so the main thread does not read them; `map`:
   * through mmap windows (/proc/vmcore, see VmcoreWindows).
   */
  fill?: { path: string; reads: Float64Array; map?: boolean };
}

/** A compressed batch, pages in the order given. */
export interface CompressedBatch {
  /** Pages in the batch. */
  count: number;
  /** Stored bytes of each page; 0 marks a zero page (only with detectZero). */
  sizes: Uint32Array;
  /** page_desc.flags of each page: the codec's flag, or 0 for a page stored raw. */
  flags: Uint32Array;
  /** The stored bytes of every page, back to back. */
  data: Uint8Array;
}

/** Bytes of `data` a batch of `count` pages needs: the pages, and room after the last for a codec to write into. */
export const batchDataBytes = (count: number, pageSize: number): number => (count - 1) * pageSize + intoRoom(pageSize);

/** True when the page is all zeros. */
export function isZeroPage(page: Uint8Array): boolean {
  if (page.byteOffset % 4 === 0 && page.length % 4 === 0) {
    const w = new Uint32Array(page.buffer, page.byteOffset, page.length >>> 2);
    for (let i = 0; i < w.length; i++) if (w[i] !== 0) return false;
    return true;
  }
  for (let i = 0; i < page.length; i++) if (page[i] !== 0) return false;
  return true;
}

/** True when words[from, to) are all zero. */
function zeroWords(words: Uint32Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (words[i] !== 0) return false;
  return true;
}

const cache = new Map<CompressName, PageCompressor>();

/**
 * Compresses every page of `job` with its codec (one compressor per codec and thread, reused). With `scratch` (a
 * batch as large), the result lives in its buffers, valid until they are used again: no garbage per batch.
 * @example compressBatch({ pages, count: 256, pageSize: 4096, codec: "zstd", detectZero: true })
 */
export function compressBatch(job: BatchJob, scratch?: CompressedBatch): CompressedBatch {
  let c = cache.get(job.codec);
  if (!c) cache.set(job.codec, (c = pageCompressor(job.codec)));
  const ps = job.pageSize;
  const need = batchDataBytes(job.count, ps);
  const fits = scratch && scratch.sizes.length >= job.count && scratch.data.length >= need;
  const sizes = fits ? scratch.sizes.subarray(0, job.count).fill(0) : new Uint32Array(job.count);
  const flags = fits ? scratch.flags.subarray(0, job.count).fill(0) : new Uint32Array(job.count);
  const out = fits ? scratch.data : new Uint8Array(need);
  // one word view of the whole batch for the zero test, not one per page
  const words = job.detectZero && job.pages.byteOffset % 4 === 0 && ps % 4 === 0 ? new Uint32Array(job.pages.buffer, job.pages.byteOffset, (job.count * ps) >>> 2) : null;
  let pos = 0;
  for (let i = 0; i < job.count; i++) {
    if (words ? zeroWords(words, (i * ps) >>> 2, ((i + 1) * ps) >>> 2) : job.detectZero && isZeroPage(job.pages.subarray(i * ps, (i + 1) * ps))) continue; // size 0: the shared zero page
    const page = job.pages.subarray(i * ps, (i + 1) * ps);
    if (c.compressInto) {
      // pos <= i * ps: what is left of out has room for a page and a quarter, more than a codec writes for a page
      const n = c.compressInto(page, out, pos);
      if (n >= ps) out.set(page, pos); // no smaller: the page is stored raw
      flags[i] = n < ps ? c.flag : 0;
      sizes[i] = Math.min(n, ps);
      pos += sizes[i]!;
      continue;
    }
    const z = c.flag ? c.compress(page) : page;
    const stored = z.length < ps ? z : page;
    flags[i] = z.length < ps ? c.flag : 0;
    sizes[i] = stored.length;
    out.set(stored, pos);
    pos += stored.length;
  }
  return { count: job.count, sizes, flags, data: out.subarray(0, pos) };
}
