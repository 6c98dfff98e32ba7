// How big a dump of the running kernel would be at a dump level, like makedumpfile --mem-usage: the page classes
// the filter uses (cache, private cache, user, free, hwpoison, offline), read from mem_map through /proc/kcore
// (4.19+: VMCOREINFO in kcore) or from any dump. Zero pages and compression are not counted: an upper bound.
import { statfsSync } from "node:fs";
import { openDump } from "../dump/open.ts";
import type { Dump } from "../dump/dump.ts";
import { PageReader } from "../dump/page_reader.ts";
import { openKernel } from "../kernel/open.ts";
import { filterPages, type ExcludedCounts } from "./filter.ts";

/** A forecast of one dump. */
export interface DumpForecast {
  /** The -d level. */
  level: number;
  /** Pages of RAM the dump would describe. */
  presentPages: number;
  /** Pages kept at the level (before zero pages are dropped and before compression). */
  keptPages: number;
  /** keptPages in bytes: the most the dump's pages take. */
  bytes: number;
  /** Pages left out, by class. */
  excluded: ExcludedCounts;
}

/**
 * The forecast for `dump` (an open /proc/kcore or dump file) at `level`.
 * @example forecastDump(openDump("/proc/kcore"), 31).bytes
 */
export function forecastDump(dump: Dump, level: number): DumpForecast {
  const reader = new PageReader(dump);
  const f = filterPages(dump, level & ~1, openKernel(dump), reader); // zero pages are found only by reading them
  let kept = 0;
  for (let i = 0; i < f.dumpable.length; i++) {
    let b = f.dumpable[i]!;
    while (b) {
      kept += b & 1;
      b >>= 1;
    }
  }
  return { level, presentPages: f.presentPages, keptPages: kept, bytes: kept * f.pageSize, excluded: f.excluded };
}

/**
 * The running kernel's forecast at `level`, from /proc/kcore (as root).
 * @example forecastRunning(31).bytes
 */
export function forecastRunning(level: number, kcore = "/proc/kcore"): DumpForecast {
  const dump = openDump(kcore);
  try {
    return forecastDump(dump, level);
  } finally {
    dump.close();
  }
}

/** Bytes free for root (f_bfree) on the filesystem of `dir`, or null when it cannot be read. */
export function freeBytes(dir: string): number | null {
  try {
    const s = statfsSync(dir);
    return s.bfree * s.bsize;
  } catch {
    return null;
  }
}

const MiB = 1048576;

/**
 * The warning `start` prints when the forecast does not fit the target's free space (both numbers), else null.
 * @example spaceWarning(forecast, 200 * 1048576, "/var/crash") // "the dump forecast (… MiB at -d 31 …) does not fit the 200.0 MiB free at /var/crash"
 */
export function spaceWarning(f: DumpForecast, free: number | null, where: string): string | null {
  if (free === null || f.bytes <= free) return null;
  return `the dump forecast (${(f.bytes / MiB).toFixed(1)} MiB at -d ${f.level}: ${f.keptPages} of ${f.presentPages} pages, before zero pages and compression) does not fit the ${(free / MiB).toFixed(1)} MiB free at ${where}: free space there, raise the dump level, or choose another target`;
}
