// `ps -m` and `ps -l`: when each task last ran, as crash prints it: -m the time since then on its CPU's runqueue
// clock ("[D HH:MM:SS.mmm]", most recent first), -l the sched_info.last_arrival timestamp in nanoseconds (newest
// first). From task_struct.sched_info (CONFIG_SCHED_INFO) and runqueues.clock, through BTF.
import { FaultError, KdumpError } from "../errors.ts";
import { cpuStates } from "../kernel/cpus.ts";
import type { Kernel } from "../kernel/kernel.ts";
import { forEachTask, readTask } from "../kernel/tasks.ts";
import type { AnalyzeContext, AnalyzeOutput } from "./command.ts";
import { hex16, hexJson, parseFlags, typedKernel } from "./_typed.ts";

/** crash's two-letter state names. */
export const CRASH_STATE: Record<string, string> = { R: "RU", S: "IN", D: "UN", T: "ST", t: "TR", X: "DE", Z: "ZO", P: "PA", I: "ID" };

/** One task with when it last ran. */
export interface TaskTime {
  pid: number;
  /** Address of the task_struct (hex). */
  task: string;
  cpu: number;
  comm: string;
  /** The kernel's state letter. */
  state: string;
  /** sched_info.last_arrival: runqueue clock (ns) when it last got a CPU. */
  lastArrival: number;
  /** Nanoseconds from then to its CPU's runqueue clock at the crash. */
  sinceNs: number;
}

/**
 * Every task with its last_arrival and the time since, newest first.
 * @example taskTimes(k).filter((t) => t.state === "D").map((t) => t.sinceNs)
 */
export function taskTimes(k: Kernel): TaskTime[] {
  const prog = k.program;
  const clocks = new Map<number, bigint>();
  const clock = (cpu: number) => {
    let c = clocks.get(cpu);
    if (c === undefined) clocks.set(cpu, (c = k.perCpu("runqueues", cpu).member("clock").integer()));
    return c;
  };
  const out: TaskTime[] = [];
  for (const a of forEachTask(prog)) {
    try {
      const t = readTask(prog, a);
      const last = k.object(a, "struct task_struct").member("sched_info.last_arrival").integer();
      out.push({ pid: t.pid, task: hexJson(a), cpu: t.cpu, comm: t.comm, state: t.state, lastArrival: Number(last), sinceNs: Number(clock(t.cpu) - last) });
    } catch (e) {
      if (!(e instanceof FaultError)) throw e;
    }
  }
  return out.sort((x, y) => y.lastArrival - x.lastArrival);
}

/** "[D HH:MM:SS.mmm]" for a span in nanoseconds, as crash's ps -m prints it. */
export function spanText(ns: number): string {
  const ms = Math.floor(Math.max(0, ns) / 1e6);
  const s = Math.floor(ms / 1000);
  const p = (v: number, n = 2) => String(v).padStart(n, "0");
  return `[${Math.floor(s / 86400)} ${p(Math.floor(s / 3600) % 24)}:${p(Math.floor(s / 60) % 60)}:${p(s % 60)}.${p(ms % 1000, 3)}]`;
}

/** `ps -m` / `ps -l`, called by the ps command when either flag is given. */
export function psTimes(ctx: AnalyzeContext): AnalyzeOutput {
  const { flags } = parseFlags(ctx.opts.args ?? []);
  const k = typedKernel(ctx);
  const rows = taskTimes(k);
  let active = new Set<string>();
  try {
    active = new Set(cpuStates(k.program).map((c) => hexJson(c.task)));
  } catch (e) {
    if (!(e instanceof KdumpError)) throw e;
  }
  const state = (t: TaskTime) => (active.has(t.task) ? "RU" : CRASH_STATE[t.state] ?? "??");
  const line = (t: TaskTime, when: string) =>
    `${when} [${state(t)}]  PID: ${String(t.pid).padEnd(8)} TASK: ${hex16(BigInt(t.task))}  CPU: ${String(t.cpu).padEnd(4)} COMMAND: "${t.comm}"`;
  // crash pads -l's numbers to the width of its first row's, the newest
  const width = String(rows[0]?.lastArrival ?? "").length;
  const text = flags.has("l") ? rows.map((t) => line(t, `[${String(t.lastArrival).padStart(width)}]`)) : rows.map((t) => line(t, spanText(t.sinceNs)));
  return { data: rows, text: text.join("\n") + "\n" };
}
