// Tasks of a crashed kernel: the process list from init_task.tasks and each process's threads from
// signal->thread_head (3.14+), plus the per-CPU idle tasks; pid, comm, state letter, CPU and stack of each.
// Offsets from BTF, so task_struct layout changes (__state in 5.14, cpu in thread_info since 5.16) need no table.
import { BadDataError, FaultError, KdumpError } from "../errors.ts";
import { nrCpuIds, idleTask } from "./percpu.ts";
import type { KernelProgram } from "./program.ts";

/** One task (a thread). */
export interface Task {
  /** Address of its task_struct. */
  task: bigint;
  /** Thread id (task.pid). */
  pid: number;
  /** Process id (task.tgid). */
  tgid: number;
  /** The parent's process id (real_parent->tgid), 0 for the idle and first tasks. */
  ppid: number;
  /** Command name (task.comm). */
  comm: string;
  /** State letter as ps and /proc show it: R S D T t X Z P I. */
  state: string;
  /** The CPU it last ran on. */
  cpu: number;
  /** Lowest address of its kernel stack (task.stack). */
  stack: bigint;
  /** True for a CPU's idle task (swapper/N, pid 0). */
  idle: boolean;
  /** True for a kernel thread (no mm). */
  kthread: boolean;
}

/** "RSDTtXZPI": fs/proc/array.c's task_state_array, by __task_state_index(). */
const STATE_CHARS = "RSDTtXZPI";
const TASK_REPORT = 0x7f;
const TASK_IDLE = 0x402; // TASK_UNINTERRUPTIBLE | TASK_NOLOAD
const TASK_RTLOCK_WAIT = 0x1000;

/**
 * The state letter of a task with `state` (__state) and `exitState` (exit_state), as the kernel's
 * task_state_to_char() computes it.
 * @example taskStateChar(0x402, 0) // "I"
 */
export function taskStateChar(state: number, exitState: number): string {
  let s = (state | exitState) & TASK_REPORT;
  if ((state & TASK_IDLE) === TASK_IDLE) s = TASK_REPORT + 1;
  if (state & TASK_RTLOCK_WAIT) s = 2;
  const index = s === 0 ? 0 : 32 - Math.clz32(s);
  return STATE_CHARS[index] ?? "?";
}

/**
 * Addresses of the structs linked into the list at `head` through their `member` (a list_head), each also handed
 * to `each` as it is reached (so a caller keeps what was read when a later link is unreadable).
 */
export function listEntries(prog: KernelProgram, head: bigint, struct: string, member: string, limit = 1 << 20, each?: (entry: bigint) => void): bigint[] {
  const off = BigInt(prog.off(struct, member));
  const out: bigint[] = [];
  const seen = new Set<bigint>();
  const where = `the list of ${struct}.${member} at 0x${head.toString(16).padStart(16, "0")}`;
  const hint = "the dump's kernel data is corrupted: try another dump of this crash, or --system-map if the symbols are wrong";
  for (let p = prog.view.u64(head); p !== head; p = prog.view.u64(p)) {
    if (out.length >= limit) throw new BadDataError(`${where} does not end after ${limit} entries`, { hint });
    if (seen.has(p)) throw new BadDataError(`${where} loops back to 0x${p.toString(16).padStart(16, "0")} after ${out.length} entries`, { hint });
    seen.add(p);
    out.push(p - off);
    each?.(p - off);
  }
  return out;
}

/**
 * Every task: each CPU's idle task first (pid 0, as crash lists them), then the processes of init_task.tasks,
 * each followed by its other threads. When part of a list is not in the dump (a filtered dump can lack a page),
 * the walk stops there: with `errors` given the reason is added to it and the tasks read so far are returned,
 * otherwise the FaultError is thrown.
 */
export function forEachTask(prog: KernelProgram, errors?: string[]): bigint[] {
  const idle: bigint[] = [];
  const idleErrors = new Set<string>();
  for (let cpu = 0, n = nrCpuIds(prog); cpu < n; cpu++) {
    try {
      const t = idleTask(prog, cpu);
      if (t) idle.push(t);
    } catch (e) {
      // A CPU that never came up has no runqueue in the dump; anything else (no rq.idle in the BTF, say) is said,
      // not passed over: the idle tasks would vanish from the list without a word
      if (e instanceof FaultError) continue;
      if (!errors || !(e instanceof KdumpError)) throw e;
      if (!idleErrors.has(e.message)) errors.push(`the idle task of CPU ${cpu} is unknown: ${e.message}`);
      idleErrors.add(e.message);
    }
  }
  const initTask = prog.sym("init_task");
  const out = [...idle];
  const seen = new Set(out);
  const add = (t: bigint) => {
    if (!seen.has(t)) {
      out.push(t);
      seen.add(t);
    }
  };
  const walk = (what: string, f: () => void) => {
    try {
      f();
    } catch (e) {
      if (!(e instanceof FaultError) || !errors) throw e;
      errors.push(`${what} is incomplete (${out.length} tasks read): ${e.message}`);
    }
  };
  walk("the task list", () => {
    for (const leader of listEntries(prog, initTask + BigInt(prog.off("task_struct", "tasks")), "task_struct", "tasks", 1 << 20, add)) {
      walk(`the thread list of task 0x${leader.toString(16)}`, () => {
        const signal = prog.u64(leader, "task_struct", "signal");
        listEntries(prog, signal + BigInt(prog.off("signal_struct", "thread_head")), "task_struct", "thread_node", 1 << 20, add);
      });
    }
  });
  return out;
}

/** The task_struct at `task`, read into a Task. */
export function readTask(prog: KernelProgram, task: bigint): Task {
  const btf = prog.btf;
  const state = btf.has("task_struct", "__state") ? prog.u32(task, "task_struct", "__state") : Number(prog.u64(task, "task_struct", "state") & 0xffffffffn);
  const pid = prog.s32(task, "task_struct", "pid");
  const parent = prog.u64(task, "task_struct", "real_parent");
  // 5.16's bcf9033e5449 "sched: move CPU field back into thread_info if THREAD_INFO_IN_TASK=y".
  const cpu = btf.has("task_struct", "cpu") ? prog.u32(task, "task_struct", "cpu") : prog.u32(task, "task_struct", "thread_info.cpu");
  const idle = pid === 0;
  return {
    task,
    pid,
    tgid: prog.s32(task, "task_struct", "tgid"),
    ppid: idle || parent === 0n || parent === task ? 0 : prog.s32(parent, "task_struct", "tgid"),
    comm: prog.str(task, "task_struct", "comm", 16),
    state: taskStateChar(state, prog.s32(task, "task_struct", "exit_state")),
    cpu,
    stack: prog.u64(task, "task_struct", "stack"),
    idle,
    kthread: prog.u64(task, "task_struct", "mm") === 0n,
  };
}
