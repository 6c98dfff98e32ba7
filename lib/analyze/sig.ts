// `sig PID|TASK`: a task's signal state as crash summarises it: pending, shared-pending and blocked masks, and each
// signal's disposition (SIG_DFL, SIG_IGN or the handler address) from task->sighand->action[].
import type { Kernel } from "../kernel/kernel.ts";
import type { KernelObject } from "../kernel/object.ts";
import { readTask } from "../kernel/tasks.ts";
import type { AnalyzeCommand } from "./command.ts";
import { forTaskArgs } from "./files.ts";
import { hexJson } from "./_typed.ts";

/** A task's signals. */
export interface TaskSignals {
  pid: number;
  task: string;
  comm: string;
  /** Masks as 16-digit hex: bit N-1 is signal N. */
  pending: string;
  sharedPending: string;
  blocked: string;
  /** Signals 1…64 whose handler is not SIG_DFL: number, handler ("SIG_IGN" or hex), sa_flags (hex). */
  actions: { signal: number; handler: string; flags: string }[];
}

const mask = (o: KernelObject) => "0x" + o.member("sig").index(0).integer().toString(16).padStart(16, "0");

/**
 * The signal state of `task`.
 * @example taskSignals(k, findTask(k, "1")).actions.map((a) => a.signal)
 */
export function taskSignals(k: Kernel, task: KernelObject): TaskSignals {
  const t = readTask(k.program, task.address!);
  const actions: TaskSignals["actions"] = [];
  const sighand = task.member("sighand");
  if (!sighand.isNull()) {
    const table = sighand.member("action");
    for (let i = 0; i < table.type.length; i++) {
      const sa = table.index(i).member("sa");
      const h = sa.member("sa_handler").integer();
      if (h === 0n) continue;
      actions.push({ signal: i + 1, handler: h === 1n ? "SIG_IGN" : hexJson(h), flags: "0x" + sa.member("sa_flags").integer().toString(16) });
    }
  }
  const signal = task.member("signal");
  return {
    pid: t.pid,
    task: hexJson(t.task),
    comm: t.comm,
    pending: mask(task.member("pending.signal")),
    sharedPending: signal.isNull() ? "0x0" : mask(signal.member("shared_pending.signal")),
    blocked: mask(task.member("blocked")),
    actions,
  };
}

/** `kdump analyze VMCORE sig PID|TASK…`. */
export const sigCommand: AnalyzeCommand = {
  describe: "sig PID|TASK: a task's pending and blocked signals and its signal handlers",
  run: (ctx) => {
    const all = forTaskArgs(ctx, "sig", taskSignals);
    const text = all
      .map((s) =>
        [
          `PID: ${String(s.pid).padEnd(8)} TASK: ${s.task.slice(2)}  COMMAND: "${s.comm}"`,
          `    PENDING: ${s.pending.slice(2)}  SHARED_PENDING: ${s.sharedPending.slice(2)}  BLOCKED: ${s.blocked.slice(2)}`,
          "  SIG  HANDLER           FLAGS",
          ...s.actions.map((a) => `  ${String(a.signal).padStart(3)}  ${a.handler === "SIG_IGN" ? "SIG_IGN".padEnd(16) : a.handler.slice(2)}  ${a.flags.slice(2)}`),
        ].join("\n") + "\n",
      )
      .join("\n");
    return { data: all, text };
  },
};
