// The collector's own memory while it runs: the peak of RssAnon (anonymous pages: its heap, bitmaps and buffers,
// what a capture kernel's reservation must hold) sampled from /proc/self/status, and VmHWM (the kernel's peak of the
// whole RSS, the Bun binary's file pages included). Linux 4.5+ (RssAnon).
import { readFileSync } from "node:fs";

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
 * Samples RssAnon every `everyMs` until stop(), which returns the peaks, and whenever sample() is called: a timer
 * alone misses the peaks of synchronous work (it saw 38 MiB where an outside reader saw 62 MiB), so the collector
 * also samples after each batch.
 * @example const m = sampleMemory(); await work(); const { anon } = m.stop()
 */
export function sampleMemory(everyMs = 100): { sample(): void; stop(): PeakMemory } {
  let anon = statusBytes(status(), "RssAnon");
  const sample = () => void (anon = Math.max(anon, statusBytes(status(), "RssAnon")));
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
