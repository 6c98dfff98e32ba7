// `kdump collect`: saves a dump (/proc/vmcore in the capture kernel, or any dump file) filtered by dump level and
// compressed, as makedumpfile's kdump-compressed format, ELF, or the flattened stream; the log beside it. Reads
// in large runs, compresses on Worker threads, keeps memory bounded, and never leaves a partial file named vmcore.
import { hostname } from "node:os";
import { errorLine, KdumpError, UsageError } from "../errors.ts";
import { formatDmesg } from "../analyze/log.ts";
import { COMPRESS_NAMES, pageCompressor, type CompressName } from "../dump/codecs/compress.ts";
import { isZeroPage, type CompressedBatch } from "../dump/codecs/batch.ts";
import type { Dump } from "../dump/dump.ts";
import { ElfDump } from "../dump/elf.ts";
import { ElfWriter, type LoadSegment } from "../dump/elf_writer.ts";
import { clearBit, countBits, filterPages, testBit, type ExcludedCounts, type PageFilter } from "../dump/filter.ts";
import { KdumpWriter } from "../dump/kdump_writer.ts";
import type { Utsname } from "../dump/kdump_compressed.ts";
import { openDump } from "../dump/open.ts";
import { PageReader } from "../dump/page_reader.ts";
import { openKernel } from "../kernel/open.ts";
import { KERNEL_IMAGE_END, START_KERNEL_MAP } from "../kernel/pagetable.ts";
import { readPrintk } from "../kernel/printk.ts";
import type { KernelView } from "../kernel/view.ts";
import { CompressPool, defaultThreads } from "./compress_pool.ts";
import { parseFailureAction, realFailureSys, runFailureAction, type FailureAction, type FailureSys } from "./failure.ts";
import { formatBytes, Progress, stderrPrinter } from "./progress.ts";
import { openOutput, parseTarget, realTargetSys, type Output, type TargetSys } from "./target.ts";

/** Output formats: makedumpfile's kdump-compressed, ELF, or kdump-compressed in the flattened stream. */
export const FORMATS = ["kdump", "elf", "flat"] as const;

/** What `kdump collect` takes. */
export interface CollectOptions {
  /** The dump to read. Default /proc/vmcore. */
  from?: string;
  /** Target: DIR, UUID=…[:/sub], LABEL=…[:/sub], /dev/… (raw), ssh://[user@]host[:port]/path, or - (stdout). */
  out: string;
  /** Dump level 0–31 (makedumpfile -d). Default 31. */
  level?: number;
  /** Page compression. Default zstd. */
  compress?: string;
  /** Output format. Default kdump (flat for stdout, raw devices and ssh). */
  format?: string;
  /** What to do when saving fails. Default none. */
  failureAction?: string;
  /** Confirms a reboot/halt/poweroff failure action outside a capture kernel. */
  yes?: boolean;
  /** Compression threads (0: inline). Default: one per CPU. */
  threads?: number;
  /** Host name for the folder. Default: the crashed kernel's. */
  host?: string;
  /** Progress lines (default: stderr). */
  progress?: (line: string, final: boolean) => void;
}

/** What was saved. */
export interface CollectResult {
  /** The final path (or "stdout", "host:path"). */
  path: string;
  /** Format written. */
  format: string;
  /** Level applied. */
  level: number;
  /** Codec of the pages ("none" for ELF). */
  compress: CompressName;
  /** Pages the dump holds. */
  pagesPresent: number;
  /** Pages stored (kept pages that are not zero: zero pages share one page, or none in ELF). */
  pagesWritten: number;
  /** Pages excluded, by reason. */
  excluded: ExcludedCounts;
  /** Why mem_map filtering was skipped, or null. */
  memMapSkipped: string | null;
  /** Bytes of the output. */
  bytes: number;
  /** Bytes read from the input. */
  bytesRead: number;
  /** Wall-clock seconds. */
  seconds: number;
  /** Compression threads used. */
  threads: number;
}

/**
 * One line about a finished collection.
 * @example formatCollect(r)  // "saved /var/crash/lab-…/vmcore (kdump, zstd, -d 31): 16583 of 196314 pages, …"
 */
export function formatCollect(r: CollectResult): string {
  const e = r.excluded;
  return (
    `saved ${r.path} (${r.format}, ${r.compress}, -d ${r.level}): ${r.pagesWritten} of ${r.pagesPresent} pages, ${formatBytes(r.bytes)} in ${r.seconds.toFixed(1)} s; ` +
    `excluded: zero ${e.zero}, cache ${e.cache}, private cache ${e.cachePrivate}, user ${e.user}, free ${e.free}, hwpoison ${e.hwpoison}, offline ${e.offline}` +
    (r.memMapSkipped ? `; not filtered by page type: ${r.memMapSkipped}` : "")
  );
}

/** A collection that failed after it started writing: the partial dump is kept and named incomplete. */
export class CollectError extends KdumpError {
  override name = "CollectError";
  /** The partial file, or null. */
  partial: string | null;
  constructor(reason: string, partial: string | null) {
    super(`collect failed: ${reason}`, { hint: partial ? `the partial dump is kept as ${partial}` : "nothing was kept" });
    this.partial = partial;
  }
}

/** The system the collector talks to: targets (mount, ssh) and failure actions. Tests pass fakes. */
export interface CollectSys {
  target: TargetSys;
  failure: FailureSys;
  /** Console messages (stderr). */
  log(line: string): void;
}

/** This machine. */
export const realCollectSys: CollectSys = { target: realTargetSys, failure: realFailureSys, log: (l) => console.error(l) };

const BATCH_PAGES = 256; // 1 MiB of input per batch

/**
 * Collects a dump. On failure after the output was opened: writes the reason beside the partial file, prints it,
 * runs the failure action, then throws CollectError.
 * @example await collect({ from: "/proc/vmcore", out: "/var/crash" })
 */
export async function collect(o: CollectOptions, sys: CollectSys = realCollectSys): Promise<CollectResult> {
  const start = performance.now();
  const level = o.level ?? 31;
  const codec = (o.compress ?? "zstd") as CompressName;
  if (!COMPRESS_NAMES.includes(codec)) throw new UsageError(`unknown compression ${o.compress}`, { hint: `use one of: ${COMPRESS_NAMES.join(", ")}` });
  const target = parseTarget(o.out);
  const streamTarget = target.kind === "stdout" || target.kind === "raw" || target.kind === "ssh";
  const format = o.format ?? (streamTarget ? "flat" : "kdump");
  if (!(FORMATS as readonly string[]).includes(format)) throw new UsageError(`unknown format ${format}`, { hint: `use one of: ${FORMATS.join(", ")}` });
  const action: FailureAction = parseFailureAction(o.failureAction ?? "none");
  const threads = o.threads ?? defaultThreads();
  if (!Number.isInteger(level) || level < 0 || level > 31) throw new UsageError(`dump level ${o.level} is not 0–31`, { hint: "add the bits: 1 zero, 2 cache, 4 private cache, 8 user, 16 free; 31 drops all" });
  if (!Number.isInteger(threads) || threads < 0 || threads > 64) throw new UsageError(`--threads ${o.threads} is not 0–64`);

  let dump: Dump | null = null;
  let output: Output | null = null;
  try {
    dump = openDump(o.from ?? "/proc/vmcore");
    const kernel = tryKernel(dump);
    const filter = filterPages(dump, level, kernel);
    if (filter.memMapSkipped && level & 0x1e) sys.log(`kdump collect: warning: pages are not filtered by type (${filter.memMapSkipped}); the dump will be larger`);
    const elf = format === "elf";
    const reader = new PageReader(dump);
    try {
      const zero = elf && level & 1 ? dropZeroPages(filter, reader) : null;
      const numDumpable = countBits(filter.dumpable, filter.maxMapnr);
      const uts = utsname(kernel, dump);
      const when = crashTime(kernel);
      output = await openOutput(target, { host: o.host ?? hostFor(uts), when, file: format === "flat" || target.kind === "ssh" ? "vmcore.flat" : "vmcore", stream: format === "flat" || streamTarget }, sys.target);
      checkSpace(output, filter, numDumpable, elf ? "none" : codec, reader, sys.log);
      if (kernel) {
        try {
          await output.writeDmesg(formatDmesg(readPrintk(kernel)));
        } catch (e) {
          sys.log(`kdump collect: warning: the kernel log was not saved (${errorLine(e)})`);
        }
      }
      const printer = o.progress ? { print: o.progress, everyMs: 1000 } : stderrPrinter();
      const progress = new Progress(numDumpable, printer.print, printer.everyMs);
      const bytes = elf
        ? await writeElf(output, dump, filter, zero, reader, progress)
        : await writeKdump(output, dump, filter, numDumpable, codec, uts, kernel, reader, progress, threads);
      const path = await output.complete();
      progress.done(numDumpable, reader.bytesRead);
      return {
        path,
        format,
        level,
        compress: elf ? "none" : codec,
        pagesPresent: filter.presentPages,
        pagesWritten: numDumpable - (elf ? 0 : filter.excluded.zero),
        excluded: filter.excluded,
        memMapSkipped: filter.memMapSkipped,
        bytes,
        bytesRead: reader.bytesRead,
        seconds: (performance.now() - start) / 1000,
        threads: elf ? 0 : threads,
      };
    } finally {
      reader.close();
    }
  } catch (e) {
    const reason = errorLine(e);
    const partial = output ? await output.fail(reason).catch(() => null) : null;
    if (output) {
      sys.log(`kdump collect: FAILED: ${reason}`);
      sys.log(partial ? `kdump collect: the partial dump is kept as ${partial} (it is not named vmcore)` : "kdump collect: nothing was kept");
    }
    runFailureAction(action, sys.failure, sys.log, o.yes);
    if (!output) throw e;
    throw new CollectError(reason, partial);
  } finally {
    dump?.close();
  }
}

function tryKernel(dump: Dump): KernelView | null {
  try {
    return openKernel(dump);
  } catch {
    return null;
  }
}

/** The crashed kernel's utsname (init_uts_ns), or what VMCOREINFO tells when it cannot be read. */
function utsname(k: KernelView | null, dump: Dump): Utsname {
  const release = /^OSRELEASE=(.*)$/m.exec(dump.vmcoreinfo ?? "")?.[1] ?? "";
  const fallback: Utsname = { sysname: "Linux", nodename: "", release, version: "", machine: "x86_64", domainname: "" };
  if (!k) return fallback;
  try {
    const base = k.info.symbol("init_uts_ns") + BigInt(k.info.offsets.get("uts_namespace.name") ?? 4);
    const s = (i: number) => k.cstring(base + BigInt(65 * i), 65);
    return { sysname: s(0), nodename: s(1), release: s(2), version: s(3), machine: s(4), domainname: s(5) };
  } catch {
    return fallback;
  }
}

function hostFor(u: Utsname): string {
  return u.nodename && u.nodename !== "(none)" ? u.nodename : hostname() || "localhost";
}

function crashTime(k: KernelView | null): Date {
  const t = k?.info.crashTime;
  return t ? new Date(t * 1000) : new Date();
}

/** Runs [pfn, count] of consecutive frames set in `bitmap` (default: the kept ones), at most `max` each, in order. */
function* keptRuns(f: PageFilter, max: number, bitmap = f.dumpable): Generator<[number, number]> {
  for (let pfn = 0; pfn < f.maxMapnr; ) {
    if (!bitmap[pfn >>> 3]) {
      pfn = (pfn | 7) + 1;
      continue;
    }
    if (!testBit(bitmap, pfn)) {
      pfn++;
      continue;
    }
    let n = 1;
    while (n < max && pfn + n < f.maxMapnr && testBit(bitmap, pfn + n)) n++;
    yield [pfn, n];
    pfn += n;
  }
}

/** Index of each kept frame among the kept frames (its page_desc slot), by a count per 4096 frames. */
function rankIndex(f: PageFilter): (pfn: number) => number {
  const blocks = new Uint32Array(Math.ceil(f.maxMapnr / 4096) + 1);
  for (let b = 0; b + 1 < blocks.length; b++) blocks[b + 1] = blocks[b]! + countBits(f.dumpable.subarray(b * 512, (b + 1) * 512));
  return (pfn) => {
    let r = blocks[pfn >>> 12]!;
    for (let p = pfn & ~4095; p < pfn; p++) if (testBit(f.dumpable, p)) r++;
    return r;
  };
}

/**
 * Frames to write before the rest, in this order, so a dump cut short (a full disk, a capture that dies) still
 * holds them: the log ring (wherever it lives: log_buf_len= moves it out of the image), then the kernel image
 * (its globals: tasks, modules, the page tables' top). Each bitmap holds only kept frames not in an earlier one.
 */
function firstFrames(f: PageFilter, dump: Dump, k: KernelView | null): Uint8Array[] {
  const log = new Uint8Array(f.dumpable.length);
  const image = new Uint8Array(f.dumpable.length);
  const mark = (to: Uint8Array, paddr: number, len: number) => {
    for (let pfn = Math.floor(paddr / f.pageSize); pfn < Math.ceil((paddr + len) / f.pageSize) && pfn < f.maxMapnr; pfn++)
      if (testBit(f.dumpable, pfn) && !testBit(log, pfn)) to[pfn >>> 3]! |= 1 << (pfn & 7);
  };
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
      for (const [va, len] of areas) for (let a = va & ~(ps - 1n); a < va + BigInt(len); a += ps) mark(log, Number(k.translate(a)), 1);
    } catch {
      // a kernel before 5.10 (log_buf) or a damaged ring: its pages go with the image or in frame order
    }
  }
  if (dump instanceof ElfDump) for (const s of dump.segments) if (s.vaddr >= START_KERNEL_MAP && s.vaddr < KERNEL_IMAGE_END) mark(image, s.paddr, s.memsz);
  return [log, image];
}

/**
 * ELF has no shared zero page: zero pages are found first (makedumpfile reads them twice too) and taken out of
 * the kept frames; the returned bitmap has them, for PT_LOADs that read them back as zeros.
 */
function dropZeroPages(f: PageFilter, reader: PageReader): Uint8Array {
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
function checkSpace(out: Output, f: PageFilter, kept: number, codec: CompressName, reader: PageReader, log: (l: string) => void): void {
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
  for (const [pfn] of keptRuns(f, 1)) {
    if (i++ % step) continue;
    reader.read(pfn, 1, page);
    sampled++;
    stored += isZeroPage(page) && f.level & 1 ? 0 : Math.min(ps, c.compress(page).length);
  }
  reader.bytesRead = 0;
  const expected = meta + (sampled ? Math.ceil((stored / sampled) * kept) : kept * ps);
  if (out.free < expected)
    log(`kdump collect: warning: ${formatBytes(out.free)} free at the target, the dump is expected to take ${formatBytes(expected)}: it may end incomplete`);
}

async function writeElf(out: Output, dump: Dump, f: PageFilter, zero: Uint8Array | null, reader: PageReader, progress: Progress): Promise<number> {
  const ps = f.pageSize;
  const segments: LoadSegment[] =
    dump instanceof ElfDump
      ? dump.segments.map((s) => ({ paddr: s.paddr, vaddr: s.vaddr, memsz: s.memsz }))
      : dump.ranges.map((r) => ({ paddr: Number(r.start), vaddr: 0n, memsz: Number(r.end - r.start) }));
  const w = new ElfWriter(out.sink, { segments, dumpable: f.dumpable, zero, maxMapnr: f.maxMapnr, pageSize: ps, notes: dump.notes });
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

async function writeKdump(
  out: Output,
  dump: Dump,
  f: PageFilter,
  numDumpable: number,
  codec: CompressName,
  uts: Utsname,
  k: KernelView | null,
  reader: PageReader,
  progress: Progress,
  threads: number,
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
    timestamp: Math.floor(crashTime(k).getTime() / 1000),
    nrCpus: dump.notes.filter((n) => n.name === "CORE" && n.type === 1).length,
    physBase: k?.info.numbers.get("phys_base") ?? 0n,
    notes: dump.notes,
  });
  await w.begin();
  const pool = new CompressPool(threads, codec, ps, (f.level & 1) === 1);
  try {
    const queue: { batch: Promise<CompressedBatch>; segments: [number, number][] }[] = [];
    let done = 0;
    let batches = 0;
    const drainOne = async () => {
      const q = queue.shift()!;
      const b = await q.batch;
      await w.writeBatch(b, q.segments);
      done += b.count;
      progress.update(done, reader.bytesRead);
      // batches are garbage once written: collecting every 8 MiB keeps the heap near its working set
      if (++batches % 8 === 0) Bun.gc(false);
    };
    let buf = new Uint8Array(BATCH_PAGES * ps);
    let fill = 0;
    let segments: [number, number][] = [];
    const flush = async () => {
      if (!fill) return;
      queue.push({ batch: pool.submit(buf.subarray(0, fill * ps), fill), segments });
      buf = new Uint8Array(BATCH_PAGES * ps);
      fill = 0;
      segments = [];
      if (queue.length >= pool.depth) await drainOne();
    };
    const rank = rankIndex(f);
    const first = firstFrames(f, dump, k);
    const rest = f.dumpable.map((b, i) => b & ~first.reduce((m, x) => m | x[i]!, 0));
    for (const bitmap of [...first, rest]) {
      for (let [pfn, n] of keptRuns(f, BATCH_PAGES, bitmap)) {
        let r = rank(pfn);
        while (n > 0) {
          const take = Math.min(n, BATCH_PAGES - fill);
          reader.read(pfn, take, buf, fill * ps);
          segments.push([r, take]);
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
  } finally {
    pool.close();
  }
  f.excluded.zero = w.zeroPages;
  await w.finish();
  return w.size;
}
