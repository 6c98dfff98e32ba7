// The page-writing half of `kdump collect`: which kept pages go in which order (the log ring, then the kernel
// image, then the rest, so a dump cut short still holds what matters most), in batches through the compression
// pool into the kdump-compressed or ELF writer; and the size estimate behind the free-space check.
import { formatBytes, type Progress } from "./progress.ts";
import { KdumpError } from "../errors.ts";
import { pageCompressor, type CompressName } from "../dump/codecs/compress.ts";
import { isZeroPage, type CompressedBatch } from "../dump/codecs/batch.ts";
import type { Dump } from "../dump/dump.ts";
import { ElfDump } from "../dump/elf.ts";
import { ElfWriter, type LoadSegment } from "../dump/elf_writer.ts";
import { clearBit, countBits, countRange, testBit } from "../dump/bitmap.ts";
import type { PageFilter, PfnRun } from "./filter.ts";
import { KdumpWriter } from "../dump/kdump_writer.ts";
import type { Utsname } from "../dump/kdump_compressed.ts";
import type { PageReader } from "../dump/page_reader.ts";
import { archNamed } from "../arch/arch.ts";
import { KERNEL_IMAGE_END, START_KERNEL_MAP } from "../arch/x86_64/pagetable.ts";
import type { KernelView } from "../kernel/view.ts";
import type { CompressPool } from "./compress_pool.ts";
import { GarbageCollector } from "./garbage.ts";
import { StageClock } from "./cpu_time.ts";
import type { Output } from "./target.ts";

/** KDUMP_THREAD_CPU=1: print the main thread's CPU by stage of the page loop, and the workers' (diagnosis). */
const STAGES = process.env.KDUMP_THREAD_CPU === "1";
const BATCH_PAGES = 256; // 1 MiB of input per batch

/**
 * Runs [pfn, count] of consecutive kept frames, at most `max` each, in frame order: within the frames of `within`
 * (sorted, disjoint [start, end) runs; default all), and in none of `minus` (each sorted and disjoint). Frame sets
 * are runs, not bitmaps, so the kept bitmap is the only per-frame memory the collector holds (collector_memory.ts).
 */
function* keptRuns(f: PageFilter, max: number, within: PfnRun[] = [[0, f.maxMapnr]], minus: PfnRun[][] = []): Generator<[number, number]> {
  // the sets left out, as one sorted list with one cursor (a closure over each set per frame was 5% of a 64 GiB
  // capture's main thread under TCG)
  const out = minus.flat().sort((a, b) => a[0] - b[0]);
  let cursor = 0;
  const kept = (pfn: number) => {
    if (!testBit(f.dumpable, pfn)) return false;
    while (cursor < out.length && out[cursor]![1] <= pfn) cursor++;
    return !(cursor < out.length && out[cursor]![0] <= pfn);
  };
  // empty stretches (free memory: most of a big box) 32 frames a step
  const words = f.dumpable.byteOffset % 4 === 0 ? new Uint32Array(f.dumpable.buffer, f.dumpable.byteOffset, f.dumpable.length >>> 2) : null;
  let run: [number, number] | null = null;
  for (const [start, end] of within) {
    const stop = Math.min(end, f.maxMapnr);
    for (let pfn = start; pfn < stop; ) {
      if (!(pfn & 31) && words && pfn >>> 5 < words.length && !words[pfn >>> 5]) {
        pfn += 32;
        continue;
      }
      if (!f.dumpable[pfn >>> 3] && !(pfn & 7)) {
        pfn += 8;
        continue;
      }
      if (!kept(pfn)) {
        pfn++;
        continue;
      }
      // a run goes on across the end of one `within` run into the next when the frames are consecutive
      if (run && run[0] + run[1] === pfn && run[1] < max) run[1]++;
      else {
        if (run) yield run;
        run = [pfn, 1];
      }
      pfn++;
    }
  }
  if (run) yield run;
}

/**
 * Index of each kept frame among the kept frames (its page_desc slot), by a count per 4096 frames and a cursor:
 * frames asked in increasing order (the writer's passes) are counted from the last one asked, not from their block's
 * start (each run was counted from its block's start bit by bit: ~2000 steps a run, ~10^5 runs at 64 GiB).
 */
export function rankIndex(f: PageFilter): (pfn: number) => number {
  const blocks = new Uint32Array(Math.ceil(f.maxMapnr / 4096) + 1);
  for (let b = 0; b + 1 < blocks.length; b++) blocks[b + 1] = blocks[b]! + countBits(f.dumpable.subarray(b * 512, (b + 1) * 512));
  let atPfn = 0;
  let atRank = 0;
  return (pfn) => {
    if (pfn < atPfn || pfn - atPfn > 4096) {
      atPfn = pfn - (pfn % 4096);
      atRank = blocks[pfn >>> 12]!;
    }
    atRank += countRange(f.dumpable, atPfn, pfn);
    atPfn = pfn;
    return atRank;
  };
}

/**
 * Frames to write before the rest, in this order, so a dump cut short (a full disk, a capture that dies) still
 * holds them: the log ring (wherever it lives: log_buf_len= moves it out of the image), then the kernel image
 * (its globals: tasks, modules, the page tables' top). As sorted [start, end) runs; the image's leave out the log's.
 */
function firstFrames(f: PageFilter, dump: Dump, k: KernelView | null): PfnRun[][] {
  const log: PfnRun[] = [];
  const image: PfnRun[] = [];
  const pfnsOf = (paddr: number, len: number): PfnRun => [Math.floor(paddr / f.pageSize), Math.min(Math.ceil((paddr + len) / f.pageSize), f.maxMapnr)];
  if (k) {
    try {
      const i = k.info;
      const prb = k.u64(i.symbol("prb"));
      const desc = prb + BigInt(i.offset("printk_ringbuffer.desc_ring"));
      const text = prb + BigInt(i.offset("printk_ringbuffer.text_data_ring"));
      const n = 2 ** k.u32(desc + BigInt(i.offset("prb_desc_ring.count_bits")));
      const areas: [bigint, number][] = [
        [k.u64(desc + BigInt(i.offset("prb_desc_ring.descs"))), n * i.size("prb_desc")],
        [k.u64(desc + BigInt(i.offset("prb_desc_ring.infos"))), n * i.size("printk_info")],
        [k.u64(text + BigInt(i.offset("prb_data_ring.data"))), 2 ** k.u32(text + BigInt(i.offset("prb_data_ring.size_bits")))],
        [prb, i.size("printk_ringbuffer")],
      ];
      const ps = BigInt(f.pageSize);
      for (const [va, len] of areas) for (let a = va & ~(ps - 1n); a < va + BigInt(len); a += ps) log.push(pfnsOf(Number(k.translate(a)), 1));
    } catch {
      // a kernel before 5.10 (log_buf) or a damaged ring: its pages go with the image or in frame order
    }
  }
  if (dump instanceof ElfDump) for (const s of dump.segments) if (s.vaddr >= START_KERNEL_MAP && s.vaddr < KERNEL_IMAGE_END) image.push(pfnsOf(s.paddr, s.memsz));
  const logRuns = mergeRuns(log);
  return [logRuns, subtractRuns(mergeRuns(image), logRuns)];
}

/** Sorted, disjoint runs covering the same frames as `runs` (adjacent ones joined). */
function mergeRuns(runs: PfnRun[]): PfnRun[] {
  const out: PfnRun[] = [];
  for (const [start, end] of [...runs].filter(([a, b]) => b > a).sort((a, b) => a[0] - b[0])) {
    const last = out[out.length - 1];
    if (last && start <= last[1]) last[1] = Math.max(last[1], end);
    else out.push([start, end]);
  }
  return out;
}

/** The frames of `runs` not in `minus` (both sorted and disjoint). */
function subtractRuns(runs: PfnRun[], minus: PfnRun[]): PfnRun[] {
  const out: PfnRun[] = [];
  for (const [start, end] of runs) {
    let from = start;
    for (const [a, b] of minus) {
      if (b <= from || a >= end) continue;
      if (a > from) out.push([from, a]);
      from = Math.max(from, b);
    }
    if (from < end) out.push([from, end]);
  }
  return out;
}

/**
 * ELF has no shared zero page: zero pages are found first (makedumpfile reads them twice too) and taken out of
 * the kept frames; the returned bitmap has them, for PT_LOADs that read them back as zeros.
 */
export function dropZeroPages(f: PageFilter, reader: PageReader): Uint8Array {
  const zero = new Uint8Array(f.dumpable.length);
  const buf = new Uint8Array(BATCH_PAGES * f.pageSize);
  for (const [pfn, n] of keptRuns(f, BATCH_PAGES)) {
    reader.read(pfn, n, buf);
    for (let i = 0; i < n; i++)
      if (isZeroPage(buf.subarray(i * f.pageSize, (i + 1) * f.pageSize)) && clearBit(f.dumpable, pfn + i)) {
        zero[(pfn + i) >>> 3]! |= 1 << ((pfn + i) & 7);
        f.excluded.zero++;
      }
  }
  reader.bytesRead = 0;
  return zero;
}

/**
 * Compares the free space with the expected size: the headers and tables must fit, else it fails now; when the
 * pages may not fit (estimated by compressing a sample of them) it warns and goes on: the log and the kernel
 * image are written first, so a partial dump still holds them, and readers see it as incomplete.
 */
export function checkSpace(out: Output, f: PageFilter, kept: number, codec: CompressName, reader: PageReader, log: (l: string) => void): void {
  if (out.free === null) return;
  const ps = f.pageSize;
  const meta = 3 * ps + Math.ceil(f.maxMapnr / 8) * 2 + kept * 24 + ps;
  if (out.free < meta) throw new KdumpError(`not enough space at the target: ${formatBytes(out.free)} free, the headers alone need ${formatBytes(meta)}`, { hint: "free space or choose a bigger target" });
  let sampled = 0;
  let stored = 0;
  const c = pageCompressor(codec);
  const page = new Uint8Array(ps);
  const step = Math.max(1, Math.floor(kept / 200));
  let i = 0;
  // every step-th kept frame, found bit by bit: no object per kept frame (292865 of them at 64 GiB)
  for (let pfn = 0; pfn < f.maxMapnr; pfn++) {
    if (!f.dumpable[pfn >>> 3] && !(pfn & 7)) {
      pfn += 7;
      continue;
    }
    if (!testBit(f.dumpable, pfn) || i++ % step) continue;
    reader.read(pfn, 1, page);
    sampled++;
    stored += isZeroPage(page) && f.level & 1 ? 0 : Math.min(ps, c.compress(page).length);
  }
  reader.bytesRead = 0;
  const expected = meta + (sampled ? Math.ceil((stored / sampled) * kept) : kept * ps);
  if (out.free < expected)
    log(`kdump collect: warning: ${formatBytes(out.free)} free at the target, the dump is expected to take ${formatBytes(expected)}: it may end incomplete`);
}

export async function writeElf(out: Output, dump: Dump, f: PageFilter, zero: Uint8Array | null, reader: PageReader, progress: Progress): Promise<number> {
  const ps = f.pageSize;
  const segments: LoadSegment[] =
    dump instanceof ElfDump
      ? dump.segments.map((s) => ({ paddr: s.paddr, vaddr: s.vaddr, memsz: s.memsz }))
      : dump.ranges.map((r) => ({ paddr: Number(r.start), vaddr: 0n, memsz: Number(r.end - r.start) }));
  const w = new ElfWriter(out.sink, { segments, dumpable: f.dumpable, zero, maxMapnr: f.maxMapnr, pageSize: ps, notes: dump.notes, machine: archNamed(dump.machine ?? "x86_64").elfMachine });
  await w.begin();
  let done = 0;
  const buf = new Uint8Array(BATCH_PAGES * ps);
  for (const [pfn, n] of keptRuns(f, BATCH_PAGES)) {
    reader.read(pfn, n, buf);
    await w.writePages(buf.subarray(0, n * ps));
    done += n;
    progress.update(done, reader.bytesRead);
  }
  await w.finish();
  return w.size;
}

export async function writeKdump(
  out: Output,
  dump: Dump,
  f: PageFilter,
  numDumpable: number,
  codec: CompressName,
  uts: Utsname,
  timestamp: number,
  k: KernelView | null,
  reader: PageReader,
  progress: Progress,
  pool: CompressPool,
): Promise<number> {
  const ps = f.pageSize;
  const w = new KdumpWriter(out.sink, {
    pageSize: ps,
    maxMapnr: f.maxMapnr,
    present: f.present,
    dumpable: f.dumpable,
    numDumpable,
    level: f.level,
    codecFlag: pageCompressor(codec).flag,
    utsname: uts,
    timestamp,
    nrCpus: dump.notes.filter((n) => n.name === "CORE" && n.type === 1).length,
    physBase: k ? archNamed(dump.machine ?? "x86_64").kdumpPhysBase(k.info) : 0n,
    notes: dump.notes,
  });
  await w.begin();
  // the pool is the caller's (started before the filter, so its threads load while mem_map is walked): it closes it
  const queue: { batch: Promise<CompressedBatch>; segments: [number, number][] }[] = [];
  let done = 0;
  const gc = new GarbageCollector();
  const clk = STAGES ? new StageClock() : null;
  const drainOne = async () => {
    const q = queue.shift()!;
    clk?.lap("plan");
    const b = await q.batch;
    clk?.lap("wait");
    await w.writeBatch(b, q.segments);
    clk?.lap("write");
    pool.release(b); // written: its buffer goes back to the worker
    done += b.count;
    progress.update(done, reader.bytesRead);
    clk?.lap("progress");
    // each page's compressed copy is garbage once written: collected every batch (a requested collection lets
    // garbage grow with the pages written, +20 MiB at 16 GiB)
    gc.step();
    clk?.lap("gc");
  };
  let buf: Uint8Array = pool.threads ? pool.pageBuffer(BATCH_PAGES * ps) : new Uint8Array(BATCH_PAGES * ps);
  let fill = 0;
  let segments: [number, number][] = [];
  // with workers and an ELF input (/proc/vmcore), each worker reads its batch's pages itself: the main thread only
  // plans the reads (the kernel's copy of each page was 36% of its time in a two-CPU 64 GiB capture)
  const path = pool.threads ? reader.path : null;
  let reads: number[] = [];
  const flush = async () => {
    if (!fill) return;
    const into = path ? { path, reads: Float64Array.from(reads), map: reader.mapped } : undefined;
    reads = [];
    clk?.lap("plan");
    queue.push({ batch: pool.submit(buf.subarray(0, fill * ps), fill, into), segments });
    if (pool.threads) buf = pool.pageBuffer(BATCH_PAGES * ps); // the last one is the pool's now; inline, it is free again
    clk?.lap("submit");
    fill = 0;
    segments = [];
    if (queue.length >= pool.depth) await drainOne();
  };
  const rank = rankIndex(f);
  const first = firstFrames(f, dump, k);
  // the log's frames, the image's, then the other kept ones: each set holds none of an earlier one's frames
  const passes: [PfnRun[] | undefined, PfnRun[][]][] = [...first.map((runs): [PfnRun[], PfnRun[][]] => [runs, []]), [undefined, first]];
  for (const [within, minus] of passes) {
    for (let [pfn, n] of keptRuns(f, BATCH_PAGES, within, minus)) {
      let r = rank(pfn);
      while (n > 0) {
        const take = Math.min(n, BATCH_PAGES - fill);
        if (path) reader.plan(pfn, take, fill * ps, reads);
        else reader.read(pfn, take, buf, fill * ps);
        // page_descs of consecutive ranks are one write (runs of kept frames apart in RAM are often adjacent ranks)
        const last = segments[segments.length - 1];
        if (last && last[0] + last[1] === r) last[1] += take;
        else segments.push([r, take]);
        fill += take;
        pfn += take;
        r += take;
        n -= take;
        if (fill === BATCH_PAGES) await flush();
      }
    }
  }
  await flush();
  while (queue.length) await drainOne();
  if (clk) console.error(`kdump collect: CPU by stage: main thread: ${clk.format()}; workers: ${pool.stageReport()}`);
  f.excluded.zero = w.zeroPages;
  await w.finish();
  return w.size;
}
