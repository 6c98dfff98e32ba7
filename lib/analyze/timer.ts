// `timer`: the pending timers of each CPU's timer wheel (per-CPU timer_bases, kernel/time/timer.c, 4.8+): for each
// base its timer_list entries from every wheel bucket, by expiry, with the jiffies left and the callback, as crash
// prints them.
import type { Kernel } from "../kernel/kernel.ts";
import { hlistForEachEntry } from "../kernel/iterators.ts";
import type { AnalyzeCommand } from "./command.ts";
import { hex16, hexJson, typedKernel } from "./_typed.ts";

/**
 * Names of the timer bases by index, by how many there are: BASE_STD and BASE_DEF, or since 6.9 ("timers: Keep the pinned
 * timers separate from the others") BASE_LOCAL, BASE_GLOBAL and BASE_DEF.
 */
const BASES: Record<number, string[]> = { 2: ["BASE_STD", "BASE_DEF"], 3: ["BASE_LOCAL", "BASE_GLOBAL", "BASE_DEF"] };

/** One pending timer. */
export interface PendingTimer {
  expires: number;
  /** Jiffies until it fires (negative when overdue). */
  tte: number;
  /** Address of its struct timer_list. */
  timer: string;
  /** Its callback and the callback's symbol. */
  function: string;
  symbol: string | null;
}

/** One CPU's timer base. */
export interface TimerBase {
  cpu: number;
  base: string;
  address: string;
  timers: PendingTimer[];
}

/**
 * The pending timers of every CPU, by base, soonest first.
 * @example readTimers(k).flatMap((b) => b.timers).length
 */
export function readTimers(k: Kernel): { jiffies: number; bases: TimerBase[] } {
  const jiffies = k.var("jiffies").integer();
  const out: TimerBase[] = [];
  for (let cpu = 0; cpu < k.nrCpus; cpu++) {
    const bases = k.perCpu("timer_bases", cpu);
    for (let b = 0; b < bases.type.length; b++) {
      const base = bases.index(b);
      const vectors = base.member("vectors");
      const timers: PendingTimer[] = [];
      // One read of the wheel's bucket heads; only the non-empty buckets are walked.
      const heads = k.view.read(vectors.address!, vectors.type.length * 8);
      const dv = new DataView(heads.buffer, heads.byteOffset, heads.byteLength);
      for (let v = 0; v < vectors.type.length; v++) {
        if (dv.getBigUint64(v * 8, true) === 0n) continue;
        for (const t of hlistForEachEntry(vectors.index(v), "struct timer_list", "entry")) {
          const expires = t.member("expires").integer();
          const fn = t.member("function").integer();
          const hit = k.program.symbols.symbolize(fn);
          timers.push({ expires: Number(expires), tte: Number(expires - jiffies), timer: hexJson(t.address!), function: hexJson(fn), symbol: hit && hit.offset === 0 ? hit.name : null });
        }
      }
      timers.sort((x, y) => x.expires - y.expires);
      out.push({ cpu, base: BASES[bases.type.length]?.[b] ?? String(b), address: hexJson(base.address!), timers });
    }
  }
  return { jiffies: Number(jiffies), bases: out };
}

/** crash's timer text. */
export function formatTimers(t: { jiffies: number; bases: TimerBase[] }): string {
  const lines = ["JIFFIES   ", String(t.jiffies)];
  for (const b of t.bases) {
    lines.push("", `TIMER_BASES[${b.cpu}][${b.base}]: ${hex16(BigInt(b.address))}`);
    const w = Math.max(3, ...b.timers.map((x) => String(x.tte).length));
    lines.push(`  EXPIRES     ${"TTE".padStart(w + 1)}        TIMER_LIST     FUNCTION`);
    for (const x of b.timers)
      lines.push(`  ${String(x.expires).padEnd(10)}  ${String(x.tte).padStart(w)}  ${hex16(BigInt(x.timer))}  ${hex16(BigInt(x.function))}  ${x.symbol ? `<${x.symbol}>` : ""}`);
  }
  return lines.join("\n") + "\n";
}

/** `kdump analyze VMCORE timer`. */
export const timerCommand: AnalyzeCommand = {
  describe: "timer: each CPU's pending timers (expiry, jiffies left, timer_list, callback)",
  run: (ctx) => {
    const t = readTimers(typedKernel(ctx));
    return { data: t, text: formatTimers(t) };
  },
};
