// `runq`: each CPU's runqueue as crash prints it: the current task, the RT priority queues (rt.active.queue[]) and
// the CFS red-black tree (cfs.tasks_timeline, descending into group entities' my_q), tasks by [prio].
import { FaultError } from "../errors.ts";
import type { Kernel } from "../kernel/kernel.ts";
import { listForEachEntry, rbtreeForEachEntry } from "../kernel/iterators.ts";
import type { KernelObject } from "../kernel/object.ts";
import type { AnalyzeCommand } from "./command.ts";
import { hex16, hexJson, typedKernel } from "./_typed.ts";

/** A queued task. */
export interface RunqTask {
  prio: number;
  pid: number;
  task: string;
  comm: string;
}

/** One CPU's runqueue. */
export interface Runq {
  cpu: number;
  /** Address of its struct rq. */
  rq: string;
  /** The task it was running. */
  current: RunqTask;
  /** &rq.rt.active and the RT tasks queued, highest priority first. */
  rt: { array: string; tasks: RunqTask[] };
  /** &rq.cfs.tasks_timeline and the CFS tasks queued, leftmost first. */
  cfs: { root: string; tasks: RunqTask[] };
}

function taskOf(t: KernelObject): RunqTask {
  return { prio: t.member("prio").number(), pid: t.member("pid").number(), task: hexJson(t.address!), comm: t.member("comm").string() };
}

/** The CFS tasks of cfs_rq `cfs`, group entities expanded. */
function cfsTasks(k: Kernel, cfs: KernelObject, depth = 0): RunqTask[] {
  const out: RunqTask[] = [];
  for (const se of rbtreeForEachEntry(cfs.member("tasks_timeline"), "struct sched_entity", "run_node")) {
    const myQ = se.has("my_q") ? se.member("my_q") : undefined;
    if (myQ && !myQ.isNull() && depth < 16) out.push(...cfsTasks(k, myQ.deref(), depth + 1));
    else out.push(taskOf(k.containerOf(se.address!, "struct task_struct", "se")));
  }
  return out;
}

/**
 * Every CPU's runqueue.
 * @example readRunqs(k).map((r) => r.cfs.tasks.length)
 */
export function readRunqs(k: Kernel): Runq[] {
  const out: Runq[] = [];
  for (let cpu = 0; cpu < k.nrCpus; cpu++) {
    let rq: KernelObject;
    try {
      rq = k.perCpu("runqueues", cpu);
      rq.member("curr").integer();
    } catch (e) {
      if (e instanceof FaultError) continue;
      throw e;
    }
    const active = rq.member("rt.active");
    const rt: RunqTask[] = [];
    const queues = active.member("queue");
    for (let p = 0; p < queues.type.length; p++)
      for (const e of listForEachEntry(queues.index(p), "struct sched_rt_entity", "run_list")) rt.push(taskOf(k.containerOf(e.address!, "struct task_struct", "rt")));
    out.push({
      cpu,
      rq: hexJson(rq.address!),
      current: taskOf(rq.member("curr").deref()),
      rt: { array: hexJson(active.address!), tasks: rt },
      cfs: { root: hexJson(rq.member("cfs.tasks_timeline").address!), tasks: cfsTasks(k, rq.member("cfs")) },
    });
  }
  return out;
}

const h = (s: string) => hex16(BigInt(s));
const row = (t: RunqTask) => `     [${String(t.prio).padStart(3)}] PID: ${String(t.pid).padEnd(6)} TASK: ${h(t.task)}  COMMAND: "${t.comm}"`;

/** crash's runq text. */
export function formatRunqs(rqs: Runq[]): string {
  return rqs
    .map((r) =>
      [
        `CPU ${r.cpu} RUNQUEUE: ${h(r.rq)}`,
        `  CURRENT: PID: ${String(r.current.pid).padEnd(6)} TASK: ${h(r.current.task)}  COMMAND: "${r.current.comm}"`,
        `  RT PRIO_ARRAY: ${h(r.rt.array)}`,
        ...(r.rt.tasks.length ? r.rt.tasks.map(row) : ["     [no tasks queued]"]),
        `  CFS RB_ROOT: ${h(r.cfs.root)}`,
        ...(r.cfs.tasks.length ? r.cfs.tasks.map(row) : ["     [no tasks queued]"]),
      ].join("\n") + "\n",
    )
    .join("\n");
}

/** `kdump analyze VMCORE runq`. */
export const runqCommand: AnalyzeCommand = {
  describe: "runq: each CPU's current task and its queued RT and CFS tasks",
  run: (ctx) => {
    const rqs = readRunqs(typedKernel(ctx));
    return { data: rqs, text: formatRunqs(rqs) };
  },
};
