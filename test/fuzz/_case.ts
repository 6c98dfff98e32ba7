// One fuzz case: a seeded mutation of a base's bytes inside one structure, written into a worker's private copy,
// `kdump analyze` run on it in a subprocess (20 s limit, peak RSS measured), the bytes restored, the outcome kept.
import { closeSync, openSync, readFileSync, readSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { KDUMP, COMMANDS, type Base } from "./_bases.ts";
import type { Range, Structure } from "./_regions.ts";

/** What a case ended in. */
export const OUTCOMES = ["ok", "clean error", "bad message", "stack trace", "hang", "signal", "memory > 500 MB"] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** A case's plan, fully determined by the seed and the case number. */
export interface CasePlan {
  index: number;
  base: Base;
  structure: Structure;
  command: string;
  /** True when the mutation aims at an entry the command used (see _hot.ts). */
  aimed?: boolean;
  /** File offset → new bytes. */
  patches: { offset: number; bytes: number[] }[];
}

/** A case's result. */
export interface CaseResult {
  plan: CasePlan;
  outcome: Outcome;
  /** True when the exit code or stdout differs from the clean run's. */
  changed: boolean;
  exit: number | null;
  signal: string | null;
  seconds: number;
  /** CPU seconds (user + system). */
  cpuSeconds: number;
  maxRssMB: number;
  /** The first stderr line (or the whole stderr when it is not one line). */
  stderr: string;
}

/** mulberry32: a small seeded PRNG, so a case is reproducible from (seed, index) alone. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Which commands read each structure (all read the headers and notes). */
const READERS: Record<Structure, string[]> = {
  headers: ["sys", "log", "ps", "bt", "mod"],
  notes: ["sys", "log", "ps", "bt", "mod"],
  bitmaps: ["sys", "log", "ps", "bt", "mod"],
  page_desc: ["sys", "log", "ps", "bt", "mod"],
  kallsyms: ["sys", "ps", "bt", "mod"],
  BTF: ["ps", "bt", "mod"],
  ORC: ["bt"],
};

/** The share of kallsyms, BTF and ORC cases aimed at the entries a command used. */
const HOT_SHARE = 0.8;

const U32S = [0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0xffff, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
const U64S = [0n, 1n, 0x7fffffffffffffffn, 0x8000000000000000n, 0xffffffffffffffffn, 0xffffffff80000000n, 0xffff888000000000n, 0x100000000n];

/** The plan of case `index` under `seed`: a structure (uniformly among those some base has), a base holding it, 1–3 mutations. */
export function planCase(bases: Base[], seed: number, index: number, readByte: (base: Base, offset: number, n: number) => Uint8Array, only?: Structure[]): CasePlan {
  const r = rng(seed * 1_000_003 + index);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const structures = (["headers", "notes", "bitmaps", "page_desc", "kallsyms", "BTF", "ORC"] as Structure[]).filter((s) => (!only || only.includes(s)) && bases.some((b) => b.targets[s].length));
  if (!structures.length) throw new Error(`no base holds ${only?.join(" or ") ?? "any structure"}`);
  const structure = pick(structures);
  const base = pick(bases.filter((b) => b.targets[structure].length));
  // most cases of a kernel table aim at the entries a command used (see _hot.ts), the rest anywhere it was read
  const hot = Object.entries(base.hot?.[structure] ?? {}).filter(([, rs]) => rs.length);
  const aimed = hot.length > 0 && r() < HOT_SHARE;
  const [command, ranges] = aimed ? pick(hot) : [pick(READERS[structure]), base.targets[structure]];
  const entries = ranges as Range[];
  const total = entries.reduce((n, [s, e]) => n + (e - s), 0);
  const at = (): number => {
    if (aimed) {
      // an entry first (a 4-byte offset weighs as much as a 1 KB token table), then a byte in it
      const [s, e] = pick(entries);
      return s + Math.floor(r() * (e - s));
    }
    let k = Math.floor(r() * total);
    for (const [s, e] of entries) {
      if (k < e - s) return s + k;
      k -= e - s;
    }
    return entries[0]![0];
  };
  const patches: CasePlan["patches"] = [];
  for (let n = 1 + Math.floor(r() * 3); n > 0; n--) {
    const off = at();
    const kind = r();
    if (kind < 0.3) {
      const b = readByte(base, off, 1)[0]!;
      patches.push({ offset: off, bytes: [b ^ (1 << Math.floor(r() * 8))] });
    } else if (kind < 0.45) {
      patches.push({ offset: off, bytes: [pick([0, 0xff, Math.floor(r() * 256)])] });
    } else if (kind < 0.75) {
      const o = off & ~3;
      const old = new DataView(readByte(base, o, 4).slice().buffer).getUint32(0, true);
      const v = pick([...U32S, (old * 2) >>> 0, (old + 1) >>> 0, (old - 1) >>> 0, (old + 0x1000) >>> 0, Math.floor(r() * 2 ** 32)]);
      const dv = new DataView(new ArrayBuffer(4));
      dv.setUint32(0, v, true);
      patches.push({ offset: o, bytes: [...new Uint8Array(dv.buffer)] });
    } else {
      const o = off - (off % 8);
      const old = new DataView(readByte(base, o, 8).slice().buffer).getBigUint64(0, true);
      const v = pick([...U64S, old + 8n, old - 8n, old ^ (1n << BigInt(Math.floor(r() * 64))), old + 0x1000n]) & 0xffffffffffffffffn;
      const dv = new DataView(new ArrayBuffer(8));
      dv.setBigUint64(0, v, true);
      patches.push({ offset: o, bytes: [...new Uint8Array(dv.buffer)] });
    }
  }
  return { index, base, structure, command, aimed, patches };
}

/** Writes `patches` into `file` and returns the bytes they replaced (to restore). */
export function applyPatches(file: string, patches: CasePlan["patches"]): CasePlan["patches"] {
  const fd = openSync(file, "r+");
  try {
    const old = patches.map((p) => {
      const b = new Uint8Array(p.bytes.length);
      readSync(fd, b, 0, b.length, p.offset);
      return { offset: p.offset, bytes: [...b] };
    });
    for (const p of patches) writeSync(fd, new Uint8Array(p.bytes), 0, p.bytes.length, p.offset);
    return old.reverse();
  } finally {
    closeSync(fd);
  }
}

/**
 * The limits of a case: 20 s of CPU time (user + system) is a hang; on a shared, loaded machine wall time says
 * more about the neighbours than about us, so wall time only stops a case after `wallSeconds` (also a hang).
 */
export const LIMITS = { seconds: 20, wallSeconds: 120, rssMB: 500, killRssMB: 1500 };

/** Peak RSS (VmHWM, bytes) and CPU seconds so far of `pid` from /proc; zeros when gone. */
async function usage(pid: number): Promise<{ hwm: number; cpu: number }> {
  try {
    const [status, stat, cmdline] = await Promise.all([Bun.file(`/proc/${pid}/status`).text(), Bun.file(`/proc/${pid}/stat`).text(), Bun.file(`/proc/${pid}/cmdline`).text()]);
    // before its exec, a spawned child still shares this process's memory (vfork): not its own figures yet
    if (pid !== process.pid && !cmdline.includes("\0analyze\0")) return { hwm: 0, cpu: 0 };
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { hwm: Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024, cpu: (Number(f[11]) + Number(f[12])) / 100 };
  } catch {
    return { hwm: 0, cpu: 0 };
  }
}

/** The preload through which a case writes its own VmHWM at exit. */
const OWN_PEAK = join(import.meta.dir, "_own_peak.ts");

/** The VmHWM (bytes) a case wrote at exit, or 0 when it wrote none (killed by a signal). */
function ownPeak(file: string): number {
  try {
    const kb = Number(readFileSync(file, "utf8"));
    return Number.isFinite(kb) ? kb * 1024 : 0;
  } catch {
    return 0;
  } finally {
    rmSync(file, { force: true });
  }
}

/** Runs `kdump analyze COPY COMMAND` with the plan's patches applied to `copy` (restored afterwards). */
export async function runCase(plan: CasePlan, copy: string): Promise<CaseResult> {
  const old = applyPatches(copy, plan.patches);
  try {
    const peakFile = `${copy}.peak`;
    rmSync(peakFile, { force: true });
    const t0 = performance.now();
    const p = Bun.spawn([process.execPath, "--preload", OWN_PEAK, KDUMP, "analyze", copy, ...COMMANDS[plan.command]!], {
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, KDUMP_FUZZ_PEAK: peakFile },
    });
    let killedFor: "hang" | "memory" | null = null;
    let peak = 0;
    let cpu = 0;
    const timer = setTimeout(() => {
      killedFor = "hang";
      p.kill("SIGKILL");
    }, LIMITS.wallSeconds * 1000);
    const poll = setInterval(async () => {
      const u = await usage(p.pid);
      peak = Math.max(peak, u.hwm);
      cpu = Math.max(cpu, u.cpu);
      if (killedFor) return;
      if (peak > LIMITS.killRssMB * 2 ** 20) killedFor = "memory";
      else if (cpu > LIMITS.seconds) killedFor = "hang";
      if (killedFor) p.kill("SIGKILL");
    }, 50);
    const [out, err] = await Promise.all([new Response(p.stdout).arrayBuffer(), new Response(p.stderr).text()]);
    const exit = await p.exited;
    clearTimeout(timer);
    clearInterval(poll);
    const seconds = (performance.now() - t0) / 1000;
    const ru = p.resourceUsage();
    // The child's ru_maxrss is max(its own peak, this process's peak when it was spawned): Linux carries the
    // spawning process's high-water mark across the exec. So it speaks for the child only above our own VmHWM
    // (read now, an upper bound of what it was at the spawn); below it, the child's own VmHWM at exit (written by
    // the preload) and the /proc polls are the measure. A fast case can end before the first poll: a CI run once
    // measured one at 0 MB.
    if ((ru?.maxRSS ?? 0) > (await usage(process.pid)).hwm) peak = Math.max(peak, ru!.maxRSS);
    peak = Math.max(peak, ownPeak(peakFile));
    cpu = Math.max(cpu, ru ? Number(ru.cpuTime.total) / 1e6 : 0);
    const maxRssMB = peak / 2 ** 20;
    const base = plan.base.baseline[plan.command]!;
    const outHash = Bun.hash(asBase(new Uint8Array(out), copy, plan.base.file)).toString(16);
    const signal = p.signalCode ? String(p.signalCode) : null;
    let outcome: import("./_case.ts").Outcome;
    if (killedFor === "hang") outcome = "hang";
    else if (killedFor === "memory" || maxRssMB > LIMITS.rssMB) outcome = "memory > 500 MB";
    else if (signal) outcome = "signal";
    else if (exit === 0) outcome = "ok";
    else outcome = classifyError(err, copy);
    const lines = err.trimEnd().split("\n");
    return {
      plan,
      outcome,
      changed: exit !== base.exit || outHash !== base.out,
      exit: signal ? null : exit,
      signal,
      seconds,
      cpuSeconds: cpu,
      maxRssMB,
      stderr: lines.length === 1 ? lines[0]! : err.slice(0, 2000),
    };
  } finally {
    applyPatches(copy, old);
  }
}

/**
 * Output of a run on `copy` as the clean run on `file` would print it: the copy's path (sys prints DUMPFILE) becomes
 * the base's, byte for byte, so only what the mutation changed tells the outputs apart.
 */
export function asBase(out: Uint8Array, copy: string, file: string): Uint8Array {
  const text = Buffer.from(out).toString("latin1");
  return text.includes(copy) ? Buffer.from(text.split(copy).join(file), "latin1") : out;
}

/** A failed run's stderr: one `kdump: …` line naming the file, a stack trace, or another message. */
export function classifyError(stderr: string, file: string): Outcome {
  const lines = stderr.trimEnd().split("\n");
  if (/^\s+at /m.test(stderr) || /^(error|TypeError|RangeError|SyntaxError|ReferenceError)\b/m.test(stderr) || lines.some((l) => /^\s*\d+ \| /.test(l))) return "stack trace";
  if (lines.length === 1 && lines[0]!.startsWith("kdump: ") && lines[0]!.includes(file)) return "clean error";
  return "bad message";
}
