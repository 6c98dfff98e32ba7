// `sig PID|TASK`: a task's signal state as crash 9 prints it (task.c dump_signal_data): the signal_struct and its
// thread count, each signal's k_sigaction (address, SIG_DFL/SIG_IGN or the handler, sa_mask, sa_flags), then the
// task's SIGPENDING flag, blocked mask and private pending queue, and the thread group's shared pending queue.
import type { Kernel } from "../kernel/kernel.ts";
import { listForEach } from "../kernel/iterators.ts";
import type { KernelObject } from "../kernel/object.ts";
import { readTask } from "../kernel/tasks.ts";
import type { AnalyzeCommand } from "./command.ts";
import { forTaskArgs } from "./files.ts";
import { hexJson } from "./_typed.ts";

/** One signal's disposition. */
export interface SigAction {
  signal: number;
  /** Address of its struct k_sigaction. */
  sigaction: string;
  /** "SIG_DFL", "SIG_IGN", "SIG_ERR" or the handler's user address. */
  handler: string;
  /** sa_mask (16-digit hex) and sa_flags (hex). */
  mask: string;
  flags: string;
}

/** A pending queue: its signal mask and the queued signals. */
export interface SigPending {
  /** Mask as 16-digit hex: bit N-1 is signal N. */
  signal: string;
  /** Each queued signal's number and the address of its siginfo. */
  queue: { signal: number; info: string }[];
}

/** A task's signals. */
export interface TaskSignals {
  pid: number;
  cpu: number;
  task: string;
  comm: string;
  signalStruct: string;
  nrThreads: number;
  /** TIF_SIGPENDING in its thread_info flags. */
  sigpending: boolean;
  /** Mask as 16-digit hex. */
  blocked: string;
  /** Signals 1…64. */
  actions: SigAction[];
  pending: SigPending;
  sharedPending: SigPending;
}

/** include/uapi/asm-generic/signal-defs.h and x86's SA_RESTORER, in the order crash names them. */
const SA_FLAGS: [number, string][] = [
  [0x1, "SA_NOCLDSTOP"],
  [0x04000000, "SA_RESTORER"],
  [0x2, "SA_NOCLDWAIT"],
  [0x4, "SA_SIGINFO"],
  [0x08000000, "SA_ONSTACK"],
  [0x10000000, "SA_RESTART"],
  [0x40000000, "SA_NODEFER"],
  [0x80000000, "SA_RESETHAND"],
];

/** x86's TIF_SIGPENDING bit of thread_info.flags. */
const TIF_SIGPENDING = 2n;

const hex16 = (v: bigint) => (v & 0xffffffffffffffffn).toString(16).padStart(16, "0");
const mask = (sigset: KernelObject) => hex16(sigset.member("sig").index(0).integer());

function pendingQueue(k: Kernel, p: KernelObject): SigPending {
  const infoOff = BigInt(k.type("struct sigqueue").member("info").offset);
  const listOff = BigInt(k.type("struct sigqueue").member("list").offset);
  const queue = [...listForEach(p.member("list"))].slice(0, 4096).map((n) => {
    const q = k.object(n - listOff, "struct sigqueue");
    return { signal: q.member("info").member("si_signo").number(), info: hexJson(q.address! + infoOff) };
  });
  return { signal: mask(p.member("signal")), queue };
}

/**
 * The signal state of `task`.
 * @example taskSignals(k, findTask(k, "1")).actions.filter((a) => a.handler !== "SIG_DFL")
 */
export function taskSignals(k: Kernel, task: KernelObject): TaskSignals {
  const t = readTask(k.program, task.address!);
  const actions: SigAction[] = [];
  const sighand = task.member("sighand");
  if (!sighand.isNull()) {
    const table = sighand.member("action");
    for (let i = 0; i < table.type.length; i++) {
      const ka = table.index(i);
      const sa = ka.member("sa");
      const h = sa.member("sa_handler").integer();
      const handler = h === 0n ? "SIG_DFL" : h === 1n ? "SIG_IGN" : h === 0xffffffffffffffffn ? "SIG_ERR" : hexJson(h);
      actions.push({ signal: i + 1, sigaction: hexJson(ka.address!), handler, mask: hex16(sa.member("sa_mask").member("sig").index(0).integer()), flags: "0x" + sa.member("sa_flags").integer().toString(16) });
    }
  }
  const signal = task.member("signal");
  const ti = task.has("thread_info") ? task.member("thread_info.flags").integer() : 0n;
  return {
    pid: t.pid,
    cpu: t.cpu,
    task: hexJson(t.task),
    comm: t.comm,
    signalStruct: hexJson(signal.integer()),
    nrThreads: signal.isNull() ? 0 : signal.member("nr_threads").number(),
    sigpending: ((ti >> TIF_SIGPENDING) & 1n) === 1n,
    blocked: mask(task.member("blocked")),
    actions,
    pending: pendingQueue(k, task.member("pending")),
    sharedPending: signal.isNull() ? { signal: hex16(0n), queue: [] } : pendingQueue(k, signal.member("shared_pending")),
  };
}

/** crash's mkstring(CENTER): `s` centred in `width`, the odd space on the right. */
const center = (s: string, width: number) => {
  const pad = Math.max(0, width - s.length);
  return " ".repeat(pad >> 1) + s + " ".repeat(pad - (pad >> 1));
};

/** crash's sig text for one task. */
export function formatSignals(s: TaskSignals): string {
  const flagNames = (f: number) => {
    const names = SA_FLAGS.filter(([bit]) => (f & bit) >>> 0 !== 0).map(([, n]) => n);
    return names.length ? `(${names.join("|")})` : "";
  };
  const queue = (p: SigPending) => (p.queue.length ? [`  SIGQUEUE:  SIG  ${center("SIGINFO", 16)}`, ...p.queue.map((q) => `             ${String(q.signal).padStart(3)}  ${q.info.slice(2)}`)] : ["  SIGQUEUE: (empty)"]);
  return [
    `PID: ${String(s.pid).padEnd(8)} TASK: ${s.task.slice(2)}  CPU: ${String(s.cpu).padEnd(4)} COMMAND: "${s.comm}"`,
    `SIGNAL_STRUCT: ${BigInt(s.signalStruct).toString(16)}  NR_THREADS: ${s.nrThreads}`,
    ` SIG ${center("SIGACTION", 16)} ${"HANDLER".padStart(10)} ${center("MASK", 16)} ${"FLAGS".padEnd(16)}`,
    ...s.actions.map((a) => {
      const handler = a.handler.startsWith("0x") ? BigInt(a.handler).toString(16) : a.handler;
      return `${a.signal < 10 ? " " : ""}[${a.signal}] ${a.sigaction.slice(2).padEnd(10)} ${handler.padStart(10)} ${a.mask} ${a.flags.slice(2)} ${flagNames(Number(BigInt(a.flags)))}`;
    }),
    `SIGPENDING: ${s.sigpending ? "yes" : "no"}`,
    `   BLOCKED: ${s.blocked}`,
    "PRIVATE_PENDING",
    `    SIGNAL: ${s.pending.signal}`,
    ...queue(s.pending),
    "SHARED_PENDING",
    `    SIGNAL: ${s.sharedPending.signal}`,
    ...queue(s.sharedPending),
  ].join("\n") + "\n";
}

/** `kdump analyze VMCORE sig PID|TASK…`. */
export const sigCommand: AnalyzeCommand = {
  describe: "sig PID|TASK: a task's signal dispositions, blocked mask and pending queues",
  run: (ctx) => {
    const all = forTaskArgs(ctx, "sig", taskSignals);
    return { data: all, text: all.map(formatSignals).join("\n") };
  },
};
