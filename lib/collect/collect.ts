// `kdump collect`: saves a dump (/proc/vmcore in the capture kernel, or any dump file) filtered by dump level and
// compressed, as makedumpfile's kdump-compressed format, ELF, or the flattened stream; the log beside it. Reads
// in large runs, compresses on Worker threads, keeps memory bounded, and never leaves a partial file named vmcore.
import { hostname } from "node:os";
import { dirname } from "node:path";
import { errorLine, KdumpError, UsageError } from "../errors.ts";
import { formatDmesg } from "../analyze/log.ts";
import { COMPRESS_NAMES, type CompressName } from "../dump/codecs/compress.ts";
import type { Dump } from "../dump/dump.ts";
import { countBits } from "../dump/bitmap.ts";
import { filterPages, type ExcludedCounts } from "./filter.ts";
import type { Utsname } from "../dump/kdump_compressed.ts";
import { openDump } from "../dump/open.ts";
import { PageReader } from "../dump/page_reader.ts";
import { openKernel } from "../kernel/open.ts";
import { readPrintk } from "../kernel/printk.ts";
import type { KernelView } from "../kernel/view.ts";
import { CompressPool, defaultThreads } from "./compress_pool.ts";
import { cpuByThreadName, processCpuSeconds, threadCpuSeconds } from "./cpu_time.ts";
import { checkSpace, dropZeroPages, writeElf, writeKdump } from "./dump_pages.ts";
import { parseFailureAction, realFailureSys, runFailureAction, type CollectFailureAction, type FailureSys } from "./failure.ts";
import { formatBytes, Progress, stderrPrinter } from "./progress.ts";
import { pruneDumps } from "./prune.ts";
import { openOutput, realTargetSys, type Output, type TargetSys } from "./target.ts";
import { parseTarget } from "../config/target.ts";
import { OUTPUT_FORMATS } from "../config/settings.ts";
import { sampleMemory, type PeakMemory } from "./peak_memory.ts";

/** Output formats: makedumpfile's kdump-compressed, ELF, or kdump-compressed in the flattened stream. */
export const FORMATS = OUTPUT_FORMATS;

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
  /** Save the kernel log beside the dump (vmcore-dmesg.txt). Default true. */
  dmesg?: boolean;
  /** Complete dumps to keep in a directory target, this one included; older ones are deleted. Default 0: all. */
  keep?: number;
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
  /** The collector's peak memory: anonymous (sampled) and the whole RSS. */
  peak?: PeakMemory;
  /** Compression threads used. */
  threads: number;
  /** Where the time went, in seconds: opening the dump, the page filter (the mem_map walk), writing the pages. */
  phases: { open: number; filter: number; pages: number };
  /** CPU seconds of the main thread and of the whole process (the compression threads are the difference), or null. */
  cpu: { main: number; total: number } | null;
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
    (r.memMapSkipped ? `; not filtered by page type: ${r.memMapSkipped}` : "") +
    (r.peak?.anon ? `; peak memory ${formatBytes(r.peak.anon)} anonymous, ${formatBytes(r.peak.hwm)} resident` : "") +
    (r.phases ? `; time: open ${r.phases.open.toFixed(1)} s, filter ${r.phases.filter.toFixed(1)} s, pages ${r.phases.pages.toFixed(1)} s` : "") +
    (r.cpu ? `; CPU: ${r.cpu.total.toFixed(1)} s, main thread ${r.cpu.main.toFixed(1)} s` : "")
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
  // ELF has no compressed page format: asking for one would silently write every page raw
  if (format === "elf" && o.compress !== undefined && o.compress !== "none")
    throw new UsageError(`--compress ${o.compress} does not apply to --format elf: ELF pages are stored uncompressed`, {
      hint: "drop --compress (or use --compress none) for an ELF dump, or use --format kdump to compress",
    });
  const action: CollectFailureAction = parseFailureAction(o.failureAction ?? "none");
  const threads = o.threads ?? defaultThreads();
  if (!Number.isInteger(level) || level < 0 || level > 31) throw new UsageError(`dump level ${o.level} is not 0–31`, { hint: "add the bits: 1 zero, 2 cache, 4 private cache, 8 user, 16 free; 31 drops all" });
  if (!Number.isInteger(threads) || threads < 0 || threads > 64) throw new UsageError(`--threads ${o.threads} is not 0–64`);
  const keep = o.keep ?? 0;
  if (!Number.isInteger(keep) || keep < 0) throw new UsageError(`--keep ${o.keep} is not a count`, { hint: "give how many dumps to keep (0 keeps all)" });

  let dump: Dump | null = null;
  let output: Output | null = null;
  try {
    dump = openDump(o.from ?? "/proc/vmcore");
    const kernel = tryKernel(dump);
    const reader = new PageReader(dump);
    const memory = sampleMemory();
    // the compression threads start now and load their modules while the filter walks mem_map (a Worker's start
    // took ~0.3 s of the main thread's time under TCG, and its loading more on another CPU); 0 threads compress inline
    const pool = format !== "elf" ? new CompressPool(threads, codec, dump.pageSize, (level & 1) === 1) : null;
    try {
      const opened = performance.now();
      const filter = filterPages(dump, level, kernel, reader);
      const filtered = performance.now();
      if (filter.memMapSkipped && level & 0x1e) sys.log(`kdump collect: warning: pages are not filtered by type (${filter.memMapSkipped}); the dump will be larger`);
      reader.bytesRead = 0;
      const elf = format === "elf";
      const zero = elf && level & 1 ? dropZeroPages(filter, reader) : null;
      const numDumpable = countBits(filter.dumpable, filter.maxMapnr);
      const uts = utsname(kernel, dump);
      const when = crashTime(kernel);
      output = await openOutput(target, { host: o.host ?? hostFor(uts), when, file: format === "flat" || target.kind === "ssh" ? "vmcore.flat" : "vmcore", stream: format === "flat" || streamTarget }, sys.target);
      checkSpace(output, filter, numDumpable, elf ? "none" : codec, reader, sys.log);
      if (kernel && o.dmesg !== false) {
        try {
          await output.writeDmesg(formatDmesg(readPrintk(kernel)));
        } catch (e) {
          sys.log(`kdump collect: warning: the kernel log was not saved (${errorLine(e)})`);
        }
      }
      const printer = o.progress ? { print: o.progress, everyMs: 1000 } : stderrPrinter();
      const progress = new Progress(numDumpable, printer.print, printer.everyMs, memory.sample);
      const bytes = elf
        ? await writeElf(output, dump, filter, zero, reader, progress)
        : await writeKdump(output, dump, filter, numDumpable, codec, uts, Math.floor(when.getTime() / 1000), kernel, reader, progress, pool!);
      const path = await output.complete();
      const written = performance.now();
      const mainCpu = threadCpuSeconds();
      if (process.env.KDUMP_THREAD_CPU === "1")
        sys.log(`kdump collect: CPU by thread: ${[...cpuByThreadName()].sort((a, b) => b[1] - a[1]).map(([n, s]) => `${n} ${s.toFixed(1)} s`).join(", ")}`);
      progress.done(numDumpable, reader.bytesRead);
      if (keep && (target.kind === "dir" || target.kind === "device")) {
        try {
          for (const d of pruneDumps(dirname(dirname(path)), keep, dirname(path))) sys.log(`kdump collect: deleted ${d} (keeping ${keep} dumps)`);
        } catch (e) {
          sys.log(`kdump collect: warning: old dumps were not deleted (${errorLine(e)})`);
        }
      }
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
        peak: memory.stop(),
        phases: { open: (opened - start) / 1000, filter: (filtered - opened) / 1000, pages: (written - filtered) / 1000 },
        cpu: mainCpu === null ? null : { main: mainCpu, total: processCpuSeconds() },
      };
    } finally {
      pool?.close();
      reader.close();
      memory.stop();
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
  const fallback: Utsname = { sysname: "Linux", nodename: "", release, version: "", machine: dump.machine ?? "x86_64", domainname: "" };
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
