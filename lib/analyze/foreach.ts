// `foreach [STATE|PID|COMM…] bt`: the backtrace of every task that matches (crash's state names RU IN UN ST TR
// ZO DE PA ID, PIDs, or command names; none → every task), with how long each has waited since it last ran.
import { FaultError, KdumpError, UsageError } from "../errors.ts";
import { cpuStates } from "../kernel/cpus.ts";
import { forEachTask, readTask, type Task } from "../kernel/tasks.ts";
import type { AnalyzeCommand } from "./command.ts";
import { backtrace, formatBt, modulesOrNone, type BtTask } from "./bt.ts";
import { CRASH_STATE, spanText } from "./ps_time.ts";
import { typedKernel } from "./_typed.ts";

/** The tasks `selectors` match: crash state names, PIDs, or comms; all tasks when there are none. */
export function selectTasks(tasks: Task[], selectors: string[]): Task[] {
  if (!selectors.length) return tasks;
  return tasks.filter((t) =>
    selectors.some((s) => (/^[A-Z]{2}$/.test(s) ? CRASH_STATE[t.state] === s : /^\d+$/.test(s) ? t.pid === Number(s) : t.comm === s)),
  );
}

/** `kdump analyze VMCORE foreach [STATE|PID|COMM…] bt`. */
export const foreachCommand: AnalyzeCommand = {
  describe: "foreach [RU|IN|UN|…|PID|COMM…] bt: the backtrace of each matching task (UN: the stuck ones)",
  run: (ctx) => {
    const args = ctx.opts.args ?? [];
    const cmd = args.at(-1);
    if (cmd !== "bt") throw new UsageError(`foreach runs bt only${cmd ? `, not ${cmd}` : ""}`, { hint: "foreach UN bt" });
    const prog = ctx.program;
    const k = typedKernel(ctx);
    const tasks: Task[] = [];
    for (const a of forEachTask(prog)) {
      try {
        tasks.push(readTask(prog, a));
      } catch (e) {
        if (!(e instanceof FaultError)) throw e;
      }
    }
    let cpus: ReturnType<typeof cpuStates> = [];
    try {
      cpus = cpuStates(prog);
    } catch (e) {
      if (!(e instanceof KdumpError)) throw e;
    }
    const mods = modulesOrNone(ctx);
    const out: (BtTask & { waitingNs?: number })[] = [];
    for (const t of selectTasks(tasks, args.slice(0, -1))) {
      const bt: BtTask & { waitingNs?: number } = backtrace(prog, mods, t, cpus.find((c) => c.task === t.task));
      try {
        const last = k.object(t.task, "struct task_struct").member("sched_info.last_arrival").integer();
        bt.waitingNs = Number(k.perCpu("runqueues", t.cpu).member("clock").integer() - last);
      } catch (e) {
        if (!(e instanceof KdumpError)) throw e;
      }
      out.push(bt);
    }
    const text = out.map((b) => formatBt([b]).replace(/\n/, b.waitingNs !== undefined && !b.panic ? `\n    LAST RAN: ${spanText(b.waitingNs)} ago\n` : "\n")).join("\n");
    return { data: { tasks: out }, text };
  },
};
