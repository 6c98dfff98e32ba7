// Why it crashed, for the report: the kind of panic read from the kernel's own log lines (hung task, soft or hard
// lockup, OOM, oops/BUG), then the evidence each kind needs from the dump: every D-state task with its trace and
// how long it waited (rq clock minus sched_info.last_arrival, as crash's ps -m); the stuck CPU's trace and the
// other CPUs'; the faulting instruction disassembled; for an OOM, the OOM killer's own table of the largest tasks,
// the kmem -i summary and the largest slab caches (a leaking cache is named as the cause when slab holds most memory).
import { FaultError, KdumpError } from "../errors.ts";
import { disassemblerLoaded } from "../kernel/disasm.ts";
import { readMemInfo, type MemInfo } from "../kernel/meminfo.ts";
import { perCpuAddress } from "../kernel/percpu.ts";
import { readSlabCaches } from "../kernel/slab.ts";
import type { KernelProgram } from "../kernel/program.ts";
import { forEachTask, readTask } from "../kernel/tasks.ts";
import { backtrace, backtraces, formatBt, modulesOrNone, type BtTask } from "./bt.ts";
import type { AnalyzeContext } from "./command.ts";
import { disassembleRequest, disLines, formatDis, resolveAddress, type DisLine } from "./dis.ts";
import { formatMemInfo, sizeText } from "./kmem.ts";
import { typedKernel } from "./_typed.ts";

/** A task stuck in D state. */
export interface StuckTask {
  pid: number;
  comm: string;
  /** Seconds since it last ran (its CPU's rq clock minus sched_info.last_arrival), null when unreadable. */
  waited: number | null;
  bt: BtTask;
}

/** What the report says about the cause. */
export interface Cause {
  /** "hung_task", "soft_lockup", "hard_lockup", "oom", "oops" or "other". */
  kind: string;
  /** One sentence for a person. */
  summary: string;
  /** hung_task: every D-state task. */
  stuck?: StuckTask[];
  /** Lockups: the stuck CPU, and every CPU's trace (the stuck one first). */
  cpu?: number;
  cpus?: BtTask[];
  /** oops: the instructions up to and just after the faulting one, which `at` marks. */
  fault?: { at: string; instructions: DisLine[] };
  /** oom: the OOM killer's task table rows, largest RSS first (pages). */
  largest?: { pid: number; comm: string; rssPages: number }[];
  /** oom: the memory summary (kmem -i) at the crash. */
  memory?: MemInfo;
  /** oom: the slab caches holding the most memory, largest first. */
  slabs?: OomSlab[];
}

/** A slab cache in an OOM report. */
export interface OomSlab {
  name: string;
  /** Objects in use and in all its slabs. */
  allocated: number;
  total: number;
  /** Bytes its slabs take (total × size). */
  bytes: number;
}

/** Slab holding more than this share of memory makes the largest cache the named cause of an OOM. */
const SLAB_CAUSE_SHARE = 0.5;

/** Classifies the crash by the kernel's own words in the log (the last matching line wins). */
export function causeKind(lines: string[]): { kind: string; line: string | null } {
  const rules: [string, RegExp][] = [
    ["hung_task", /hung_task: blocked tasks|INFO: task \S+ blocked for more than/],
    ["soft_lockup", /softlockup: hung tasks|BUG: soft lockup - CPU#\d+ stuck/],
    ["hard_lockup", /Hard LOCKUP|hard LOCKUP on cpu/],
    ["oom", /Out of memory|out of memory:|System is deadlocked on memory/],
    ["oops", /BUG: |Oops: |general protection fault|kernel BUG at|invalid opcode:/],
  ];
  for (const [kind, re] of rules) {
    const line = [...lines].reverse().find((l) => re.test(l));
    if (line) return { kind, line };
  }
  return { kind: "other", line: null };
}

/** The cause of the crash in `ctx`, with its evidence; `lines` is the log as text lines, `panic` sys's panic string. */
export function explain(ctx: AnalyzeContext, lines: string[], panic: string | null = null): Cause {
  const { kind, line } = causeKind(lines);
  const prog = ctx.program;
  const mods = modulesOrNone(ctx);
  if (kind === "hung_task") {
    const stuck = stuckTasks(ctx);
    const names = stuck.map((t) => `${t.comm}:${t.pid}`).join(", ");
    return { kind, summary: `hung task panic: ${stuck.length} task(s) in D state (${names || "none found"}); the oldest waited ${Math.max(0, ...stuck.map((t) => t.waited ?? 0)).toFixed(0)} s`, stuck };
  }
  if (kind === "soft_lockup" || kind === "hard_lockup") {
    const all = backtraces(prog, mods, ["-a"]);
    const soft = lines.map((l) => /soft lockup - CPU#(\d+) stuck for (\d+)s! \[(.*):(\d+)\]/.exec(l)).filter(Boolean).pop();
    const hard = lines.map((l) => /hard LOCKUP on cpu (\d+)/i.exec(l)).filter(Boolean).pop();
    const cpu = soft ? Number(soft[1]) : hard ? Number(hard[1]) : all.find((t) => t.panic)?.cpu;
    const cpus = [...all.filter((t) => t.cpu === cpu), ...all.filter((t) => t.cpu !== cpu)];
    const what = soft ? `CPU ${cpu} stuck for ${soft[2]} s running ${soft[3]}:${soft[4]}` : `CPU ${cpu} stuck with interrupts off`;
    return { kind, summary: `${kind === "soft_lockup" ? "soft" : "hard"} lockup: ${what}`, cpu, cpus };
  }
  if (kind === "oom") {
    const largest = oomTable(lines);
    const top = largest[0];
    const { memory, slabs } = oomMemory(ctx);
    const cache = slabs?.[0];
    if (memory && cache && memory.slab > memory.total * SLAB_CAUSE_SHARE) {
      const share = (cache.bytes * 100) / (memory.total * memory.pageSize);
      return { kind, summary: `out of memory: slab cache ${cache.name} holds ${sizeText(cache.bytes)} (${share.toFixed(0)}% of memory, ${cache.allocated} objects in use): a leak?`, largest, memory, slabs };
    }
    return { kind, summary: `out of memory${top ? `: the largest task was ${top.comm}:${top.pid} with ${((top.rssPages * 4096) / 2 ** 20).toFixed(0)} MiB resident` : ""}`, largest, memory, slabs };
  }
  if (kind === "oops") {
    const fault = faultingInstruction(ctx, lines);
    return { kind, summary: `kernel oops: ${line!.replace(/^\[[^\]]*\]\s*/, "")}${fault ? ` at ${fault.instructions.find((i) => i.address === fault.at)?.symbol ?? fault.at}` : ""}`, fault };
  }
  return { kind, summary: panic ? `panic: "${panic}"` : "no panic message in the log" };
}

/** kmem -i and the 10 slab caches taking the most memory; parts the dump cannot give are left out. */
function oomMemory(ctx: AnalyzeContext): { memory?: MemInfo; slabs?: OomSlab[] } {
  const k = typedKernel(ctx);
  const out: { memory?: MemInfo; slabs?: OomSlab[] } = {};
  try {
    out.memory = readMemInfo(k);
  } catch (e) {
    if (!(e instanceof KdumpError)) throw e;
  }
  try {
    out.slabs = readSlabCaches(k)
      .map((c) => ({ name: c.name, allocated: c.active, total: c.total, bytes: c.total * c.size }))
      .sort((a, b) => b.bytes - a.bytes)
      .slice(0, 10);
  } catch (e) {
    if (!(e instanceof KdumpError)) throw e;
  }
  return out;
}

/** Every task in D state with its trace and how long since it last ran. */
export function stuckTasks(ctx: AnalyzeContext): StuckTask[] {
  const prog = ctx.program;
  const mods = modulesOrNone(ctx);
  const out: StuckTask[] = [];
  for (const a of forEachTask(prog)) {
    try {
      const t = readTask(prog, a);
      if (t.state !== "D") continue;
      out.push({ pid: t.pid, comm: t.comm, waited: waitedSeconds(prog, a, t.cpu), bt: backtrace(prog, mods, t) });
    } catch (e) {
      if (!(e instanceof FaultError)) throw e;
    }
  }
  return out.sort((x, y) => (y.waited ?? 0) - (x.waited ?? 0));
}

/** Seconds between `task`'s last arrival on a CPU and the clock of the runqueue it last ran on. */
export function waitedSeconds(prog: KernelProgram, task: bigint, cpu: number): number | null {
  try {
    const clock = prog.u64(perCpuAddress(prog, "runqueues", cpu), "rq", "clock");
    const arrival = prog.u64(task, "task_struct", "sched_info.last_arrival");
    return clock >= arrival ? Number(clock - arrival) / 1e9 : null;
  } catch (e) {
    if (e instanceof KdumpError) return null;
    throw e;
  }
}

/** The OOM killer's task table ("[  pid  ]   uid  tgid total_vm      rss …"), largest RSS first. */
export function oomTable(lines: string[]): { pid: number; comm: string; rssPages: number }[] {
  const rows = new Map<number, { pid: number; comm: string; rssPages: number }>();
  for (const l of lines) {
    const m = /\[\s*(\d+)\]\s+\d+\s+\d+\s+\d+\s+(\d+)\s+.*\s(\S+)$/.exec(l);
    if (m) rows.set(Number(m[1]), { pid: Number(m[1]), comm: m[3]!, rssPages: Number(m[2]) });
  }
  return [...rows.values()].sort((a, b) => b.rssPages - a.rssPages).slice(0, 10);
}

/**
 * The faulting instruction of the last oops: the kernel's own "RIP: 0010:func+0x5/0x10 [module]" line, else the
 * panic trace's first kernel exception frame; its function up to that RIP, and two instructions after.
 */
function faultingInstruction(ctx: AnalyzeContext, lines: string[]): Cause["fault"] {
  if (!disassemblerLoaded()) return undefined;
  const prog = ctx.program;
  const mods = modulesOrNone(ctx);
  let rip: bigint | undefined;
  // the first RIP line after the last oops line (later ones are the registers of interrupted contexts)
  let from = -1;
  lines.forEach((l, i) => /BUG: |Oops: |general protection fault|kernel BUG at|invalid opcode:/.test(l) && (from = i));
  const logged = lines.slice(Math.max(0, from)).map((l) => /RIP: 0010:([\w.$]+\+0x[0-9a-f]+)\/0x[0-9a-f]+/.exec(l)).find(Boolean);
  try {
    if (logged) rip = resolveAddress(prog, mods, logged[1]!);
    else {
      const t = backtraces(prog, mods, [])[0]!;
      const exc = t.frames.find((f) => f.exception && !f.exception.user);
      if (exc) rip = BigInt(exc.exception!.regs.ip!);
    }
  } catch (e) {
    if (e instanceof KdumpError) return undefined;
    throw e;
  }
  if (rip === undefined) return undefined;
  try {
    const before = disassembleRequest(prog, mods, { address: rip, reverse: true, forward: false, syntax: "att" });
    const after = disassembleRequest(prog, mods, { address: rip, count: 3, reverse: false, forward: false, syntax: "att" }).slice(1);
    return { at: "0x" + rip.toString(16).padStart(16, "0"), instructions: disLines(prog, mods, [...before.slice(-12), ...after]) };
  } catch (e) {
    if (e instanceof KdumpError) return undefined;
    throw e;
  }
}

/** The cause as report text. */
export function formatCause(c: Cause): string {
  const out = [`CAUSE: ${c.summary}`];
  for (const s of c.stuck ?? []) out.push("", `D-state task ${s.comm}:${s.pid}, waited ${s.waited === null ? "?" : s.waited.toFixed(1)} s:`, formatBt([s.bt]).trimEnd());
  if (c.cpus?.length) out.push("", `the stuck CPU ${c.cpu}, then the others:`, formatBt(c.cpus).trimEnd());
  if (c.largest?.length) out.push("", "largest tasks by RSS (the OOM killer's table):", ...c.largest.map((t) => `  ${String(t.pid).padStart(7)}  ${((t.rssPages * 4096) / 2 ** 20).toFixed(1).padStart(8)} MiB  ${t.comm}`));
  if (c.memory) out.push("", "memory (kmem -i):", formatMemInfo(c.memory).trimEnd());
  if (c.slabs?.length) out.push("", "largest slab caches:", `  ${"NAME".padEnd(24)} ${"ALLOCATED".padStart(10)} ${"TOTAL".padStart(10)} ${"SIZE".padStart(10)}`, ...c.slabs.map((s) => `  ${s.name.padEnd(24)} ${String(s.allocated).padStart(10)} ${String(s.total).padStart(10)} ${sizeText(s.bytes).padStart(10)}`));
  if (c.fault)
    out.push(
      "",
      "the faulting instruction (=>):",
      ...formatDis(c.fault.instructions)
        .trimEnd()
        .split("\n")
        .map((l) => (l.startsWith(c.fault!.at) ? `=> ${l}` : `   ${l}`)),
    );
  return out.join("\n") + "\n";
}
