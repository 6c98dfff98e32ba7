// `ps`: every task of the crashed kernel as crash lists them (idle tasks first, ">" on the task each CPU was
// running, kernel threads in brackets, crash's two-letter states), from the dump's task list read through BTF.
import { cpuStates } from "../kernel/cpus.ts";
import type { KernelProgram } from "../kernel/program.ts";
import { forEachTask, readTask, type Task } from "../kernel/tasks.ts";
import type { AnalyzeCommand } from "./command.ts";

/** One task as `ps --json` prints it. */
export interface PsTask {
  pid: number;
  ppid: number;
  cpu: number;
  /** The kernel's state letter (R S D T t X Z P I), as ps(1) shows it. */
  state: string;
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

/**
 * The tasks of the dump, idle tasks first, then processes each followed by its threads.
 * @example psTasks(prog).filter((t) => t.state === "D")
 */
export function psTasks(prog: KernelProgram): PsTask[] {
  let active = new Set<bigint>();
  try {
    active = new Set(cpuStates(prog).map((c) => c.task));
  } catch {
    // Without the CPUs' notes no task is marked active; the list itself does not need them.
  }
  return forEachTask(prog).map((a) => psRow(readTask(prog, a), active.has(a)));
}

function psRow(t: Task, active: boolean): PsTask {
  return { pid: t.pid, ppid: t.ppid, cpu: t.cpu, state: t.state, comm: t.comm, task: "0x" + t.task.toString(16).padStart(16, "0"), active, kthread: t.kthread };
}

/** crash's ps text (without its memory columns). */
export function formatPs(tasks: PsTask[]): string {
  const lines = ["   PID    PPID  CPU       TASK        ST  COMM"];
  for (const t of tasks)
    lines.push(
      `${t.active ? ">" : " "}${String(t.pid).padStart(6)}  ${String(t.ppid).padStart(6)}  ${String(t.cpu).padStart(3)}  ${t.task.slice(2)}  ${CRASH_STATE[t.state] ?? "??"}  ${t.kthread ? `[${t.comm}]` : t.comm}`,
    );
  return lines.join("\n") + "\n";
}

/** `kdump analyze VMCORE ps`. */
export const psCommand: AnalyzeCommand = {
  describe: "the tasks: PID, PPID, CPU, TASK, ST, COMM (like crash's ps)",
  run: (ctx) => {
    const tasks = psTasks(ctx.program);
    return { data: { tasks }, text: formatPs(tasks) };
  },
};
