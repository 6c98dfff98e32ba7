// `ps`: every task of the crashed kernel as crash lists them (idle tasks first, ">" on the task each CPU was
// running, kernel threads in brackets, crash's two-letter states), from the dump's task list read through BTF.
import { FaultError, KdumpError } from "../errors.ts";
import { cpuStates } from "../kernel/cpus.ts";
import type { KernelProgram } from "../kernel/program.ts";
import { forEachTask, readTask, type Task } from "../kernel/tasks.ts";
import type { AnalyzeCommand } from "./command.ts";
import { psTimes } from "./ps_time.ts";

/** One task as `ps --json` prints it. */
export interface PsTask {
  /** Thread id. */
  pid: number;
  /** The parent's process id. */
  ppid: number;
  /** The CPU it last ran on. */
  cpu: number;
  /** The kernel's state letter (R S D T t X Z P I), as ps(1) shows it. */
  state: string;
  /** Command name. */
  comm: string;
  /** Address of the task_struct (hex). */
  task: string;
  /** True when a CPU was running it at the crash. */
  active: boolean;
  /** True for a kernel thread (no mm). */
  kthread: boolean;
}

/** crash's ST column for each state letter. */
const CRASH_STATE: Record<string, string> = { R: "RU", S: "IN", D: "UN", T: "ST", t: "TR", X: "DE", Z: "ZO", P: "PA", I: "ID" };

/** What `ps` found: the tasks, and why the list may be incomplete. */
export interface PsResult {
  /** The tasks read, in list order. */
  tasks: PsTask[];
  /** Parts of the task lists (or tasks) the dump does not hold, when any. */
  errors?: string[];
}

/**
 * The tasks of the dump, idle tasks first, then processes each followed by its threads; a task or list link the
 * dump lacks is reported in `errors` and the rest is still listed.
 * @example psTasks(prog).tasks.filter((t) => t.state === "D")
 */
export function psTasks(prog: KernelProgram): PsResult {
  let active = new Set<bigint>();
  try {
    active = new Set(cpuStates(prog).map((c) => c.task));
  } catch (e) {
    // Without the CPUs' notes no task is marked active; the list itself does not need them.
    if (!(e instanceof KdumpError)) throw e;
  }
  const errors: string[] = [];
  const tasks: PsTask[] = [];
  for (const a of forEachTask(prog, errors)) {
    try {
      tasks.push(psRow(readTask(prog, a), active.has(a)));
    } catch (e) {
      if (!(e instanceof FaultError)) throw e;
      errors.push(`task 0x${a.toString(16)} is not in the dump: ${e.message}`);
    }
  }
  return errors.length ? { tasks, errors } : { tasks };
}

function psRow(t: Task, active: boolean): PsTask {
  return { pid: t.pid, ppid: t.ppid, cpu: t.cpu, state: t.state, comm: t.comm, task: "0x" + t.task.toString(16).padStart(16, "0"), active, kthread: t.kthread };
}

/** crash's ps text (without its memory columns), then a line per part that could not be read. */
export function formatPs({ tasks, errors }: PsResult): string {
  const lines = ["   PID    PPID  CPU       TASK        ST  COMM"];
  for (const t of tasks)
    lines.push(
      `${t.active ? ">" : " "}${String(t.pid).padStart(6)}  ${String(t.ppid).padStart(6)}  ${String(t.cpu).padStart(3)}  ${t.task.slice(2)}  ${CRASH_STATE[t.state] ?? "??"}  ${t.kthread ? `[${t.comm}]` : t.comm}`,
    );
  for (const e of errors ?? []) lines.push(`ps: ${e}`);
  return lines.join("\n") + "\n";
}

/** `kdump analyze VMCORE ps`. */
export const psCommand: AnalyzeCommand = {
  describe: "the tasks: PID, PPID, CPU, TASK, ST, COMM (like crash's ps); -m time since each last ran, -l its last_arrival",
  run: (ctx) => {
    if (ctx.opts.args?.some((a) => /^-[ml]+$/.test(a))) return psTimes(ctx);
    const ps = psTasks(ctx.program);
    return { data: ps, text: formatPs(ps) };
  },
};
