// The collector's own memory while it runs: the peak of RssAnon (anonymous pages: its heap, bitmaps and buffers,
// what a capture kernel's reservation must hold) sampled from /proc/self/status, and VmHWM (the kernel's peak of the
// whole RSS, the Bun binary's file pages included). Linux 4.5+ (RssAnon).
import { openSync, readFileSync, readSync } from "node:fs";

/** Peak resident memory in bytes. */
export interface PeakMemory {
  /** Largest RssAnon seen (sampled). */
  anon: number;
  /** VmHWM at the end: the whole RSS's peak, file pages included. */
  hwm: number;
}

/** A status field in bytes, or 0 when absent (not Linux, or a kernel before 4.5 for RssAnon). */
export function statusBytes(status: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

function status(): string {
  try {
    return readFileSync("/proc/self/status", "utf8");
  } catch {
    return "";
  }
}

/**
 * RssAnon in bytes from /proc/self/statm (resident less shared pages is the kernel's MM_ANONPAGES, what status
 * prints as RssAnon), or null when it cannot be read. statm is one line the kernel makes cheaply; status, read after
 * every batch, took 3 s of a 64 GiB capture's main thread under TCG.
 */
export function statmAnon(statm: string, pageSize: number): number | null {
  const f = statm.split(" ");
  const resident = Number(f[1]);
  const shared = Number(f[2]);
  return Number.isInteger(resident) && Number.isInteger(shared) && resident >= shared ? (resident - shared) * pageSize : null;
}

/** /proc/self/statm kept open and read again from its start (pread): one syscall a sample, not open/read/close. */
let statmFd = -1;
const statmBuf = new Uint8Array(128);

function anonNow(pageSize: number): number {
  try {
    if (statmFd < 0) statmFd = openSync("/proc/self/statm", "r");
    const n = readSync(statmFd, statmBuf, 0, statmBuf.length, 0);
    const a = statmAnon(String.fromCharCode(...statmBuf.subarray(0, n)), pageSize);
    if (a !== null) return a;
  } catch {
    // no statm: status below
  }
  return statusBytes(status(), "RssAnon");
}

/** Least time between two samples asked for by sample(), in ms: a capture writes a batch every ~20 ms under TCG. */
const SAMPLE_GAP_MS = 50;

/**
 * Samples RssAnon every `everyMs` until stop(), which returns the peaks, and whenever sample() is called: a timer
 * alone misses the peaks of synchronous work (it saw 38 MiB where an outside reader saw 62 MiB), so the collector
 * also samples after each batch, at most every SAMPLE_GAP_MS (each sample is a read of /proc/self/statm).
 * @example const m = sampleMemory(); await work(); const { anon } = m.stop()
 */
export function sampleMemory(everyMs = 100): { sample(): void; stop(): PeakMemory } {
  const first = status();
  let anon = statusBytes(first, "RssAnon");
  // the page size statm counts in, from the two readings of the same moment (4 KiB on x86_64; arm64 may use 16 or 64)
  const pages = (() => {
    try {
      return statmAnon(readFileSync("/proc/self/statm", "latin1"), 1);
    } catch {
      return null;
    }
  })();
  const pageSize = pages ? [4096, 16384, 65536].reduce((a, b) => (Math.abs(anon / pages - b) < Math.abs(anon / pages - a) ? b : a)) : 4096;
  let last = 0;
  const sample = () => {
    const now = performance.now();
    if (now - last < SAMPLE_GAP_MS) return;
    last = now;
    anon = Math.max(anon, anonNow(pageSize));
  };
  const t = setInterval(sample, everyMs);
  t.unref();
  return {
    sample,
    stop() {
      clearInterval(t);
      const s = status();
      return { anon: Math.max(anon, statusBytes(s, "RssAnon")), hwm: statusBytes(s, "VmHWM") };
    },
  };
}
