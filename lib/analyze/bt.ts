// `bt`: stack traces as crash prints them ("PID: … TASK: … CPU: … COMMAND:", "#N [sp] function at address
// [module]", exception frames with their registers), of the panic task (default), every CPU (-a) or given PIDs,
// from the dump alone: kallsyms, BTF and ORC read out of kernel memory.
import { FaultError, KdumpError, UsageError } from "../errors.ts";
import { cpuStates, stacksOf, type CpuState } from "../kernel/cpus.ts";
import type { KernelProgram } from "../kernel/program.ts";
import { forEachTask, readTask, type Task } from "../kernel/tasks.ts";
import type { Frame } from "../arch/x86_64/unwind.ts";
import { unwinderFor } from "../arch/unwinders.ts";
import type { ModuleList } from "../kernel/modules.ts";
import type { AnalyzeCommand, AnalyzeContext } from "./command.ts";

/** One frame as `bt --json` prints it. Addresses are 0x-prefixed hex strings. */
export interface BtFrame {
  /** Function name, null when no symbol covers the address. */
  function: string | null;
  /** Offset into the function, null without a symbol. */
  offset: number | null;
  /** Module name, null for the kernel. */
  module: string | null;
  /** The instruction address. */
  address: string;
  /** The stack slot crash shows in brackets. */
  sp: string;
  /** Registers of the exception or interrupt frame saved here (printed after the frame), by pt_regs name. */
  exception?: { user: boolean; full: boolean; regs: Record<string, string> };
  /** Set when the trace leaves a stack after this frame ("IRQ stack", "exception stack"). */
  stack_end?: string;
  /** bt -f: the stack words of this frame, from the slot above `sp` through the next frame's return address. */
  words?: { from: string; values: string[] };
}

/** One task's trace as `bt --json` prints it. */
export interface BtTask {
  /** Thread id. */
  pid: number;
  /** The CPU whose registers started the trace, else the task's last CPU. */
  cpu: number;
  /** Command name. */
  comm: string;
  /** Address of the task_struct (hex). */
  task: string;
  /** True for the task that panicked. */
  panic: boolean;
  /** Frames, innermost first. */
  frames: BtFrame[];
  /** Why the trace is incomplete, when it is. */
  error?: string;
}

const hex = (v: bigint) => "0x" + v.toString(16).padStart(16, "0");

/** The trace of `task`: from its CPU's saved registers when it was running there, else from its saved thread.sp. */
export function backtrace(prog: KernelProgram, mods: ModuleList, t: Task, cpu?: CpuState): BtTask {
  const out: BtTask = { pid: t.pid, cpu: cpu?.cpu ?? t.cpu, comm: t.comm, task: hex(t.task), panic: cpu?.panic ?? false, frames: [] };
  try {
    const u = unwinderFor(prog.view.dump);
    const start = cpu ? u.startFromRegs(cpu.regs) : u.startFromTask(prog, t.task);
    const trace = u.unwind(prog, mods, start, stacksOf(prog, out.cpu, t.task));
    out.frames = trace.frames.map((f) => frameJson(f, u.regNames));
    if (trace.error) out.error = trace.error;
  } catch (e) {
    if (!(e instanceof KdumpError)) throw e;
    out.error = `cannot start the trace: ${e.message}`;
  }
  return out;
}

function frameJson(f: Frame, regNames: readonly string[]): BtFrame {
  const s = f.symbol;
  const j: BtFrame = { function: s?.name || null, offset: s ? s.offset : null, module: s?.module ?? null, address: hex(f.ip), sp: hex(f.sp) };
  if (f.exception) {
    const r = f.exception.regs;
    j.exception = { user: f.exception.user, full: f.exception.full, regs: Object.fromEntries(regNames.map((n) => [n, hex((r as Record<string, bigint>)[n]!)])) };
  }
  if (f.stackEnd) j.stack_end = f.stackEnd;
  return j;
}

/**
 * The traces `args` ask for: none → the panic task; "-a" → the task on each CPU that saved registers;
 * PIDs or task addresses → those tasks.
 */
export function backtraces(prog: KernelProgram, mods: ModuleList, args: string[]): BtTask[] {
  const cpus = cpuStates(prog);
  const onCpu = (task: bigint) => cpus.find((c) => c.task === task);
  if (args.includes("-a")) return cpus.map((c) => cpuBacktrace(prog, mods, c));
  if (!args.length) {
    const c = cpus.find((x) => x.panic) ?? cpus.find((x) => readTask(prog, x.task).pid !== 0) ?? cpus[0];
    if (!c) throw new KdumpError("no CPU saved its registers in the dump (no NT_PRSTATUS notes)", { hint: "try bt PID for a sleeping task" });
    return [backtrace(prog, mods, readTask(prog, c.task), c)];
  }
  const errors: string[] = [];
  const all = forEachTask(prog, errors).flatMap((a) => {
    try {
      return [readTask(prog, a)];
    } catch (e) {
      if (!(e instanceof FaultError)) throw e;
      errors.push(`task 0x${a.toString(16)} is not in the dump`);
      return [];
    }
  });
  return args.flatMap((arg) => {
    const bad = () => new UsageError(`bt: ${arg} is neither -a, a PID nor a task address`, { hint: "e.g. kdump analyze VMCORE bt 1, or bt -a" });
    let matches: Task[];
    if (/^0x[0-9a-f]+$/i.test(arg)) matches = all.filter((t) => t.task === BigInt(arg));
    else if (/^\d+$/.test(arg)) matches = all.filter((t) => t.pid === Number(arg));
    else throw bad();
    if (!matches.length)
      throw new UsageError(`bt: no task ${arg} in the dump${errors.length ? ` (${errors[0]})` : ""}`, { hint: "kdump analyze VMCORE ps lists them" });
    return matches.map((t) => backtrace(prog, mods, t, onCpu(t.task)));
  });
}

/** The trace of the task on CPU `c`, or a record that says why it cannot be read (the other CPUs still trace). */
function cpuBacktrace(prog: KernelProgram, mods: ModuleList, c: CpuState): BtTask {
  try {
    if (c.error) throw new FaultError(c.error, c.task);
    return backtrace(prog, mods, readTask(prog, c.task), c);
  } catch (e) {
    if (!(e instanceof FaultError)) throw e;
    return { pid: -1, cpu: c.cpu, comm: "?", task: hex(c.task), panic: c.panic, frames: [], error: c.error ?? `cannot read the task on CPU ${c.cpu}: ${e.message}` };
  }
}

/** crash's text: a header per task, then its frames, exception registers and stack changes. */
export function formatBt(tasks: BtTask[]): string {
  return tasks.map(formatTask).join("\n");
}

function formatTask(t: BtTask): string {
  const lines = [`PID: ${String(t.pid).padEnd(8)} TASK: ${t.task.slice(2)}  CPU: ${String(t.cpu).padEnd(4)} COMMAND: "${t.comm}"`];
  t.frames.forEach((f, i) => {
    const name = f.function ?? "(unknown)";
    lines.push(`${`#${i}`.padStart(3)} [${f.sp.slice(2)}] ${name} at ${f.address.slice(2)}${f.module ? ` [${f.module}]` : ""}`);
    if (f.words) lines.push(...wordLines(f.words));
    if (f.exception) lines.push(...exceptionLines(f.exception, t.frames[i + 1]));
    if (f.stack_end) lines.push(`--- <${f.stack_end}> ---`);
  });
  if (t.error) lines.push(`bt: ${t.error}`);
  return lines.join("\n") + "\n";
}

/** Largest frame bt -f prints: a longer gap between two frames is a stack switch, not a frame. */
const MAX_FRAME_BYTES = 8192;

/**
 * bt -f: fills each frame's `words` with the stack between its slot and the next frame's (the next frame's return
 * address included), as crash's bt -f shows them (from a running task's stack pointer itself). A frame whose next
 * one is on another stack, or is the last, gets none.
 */
export function addStackWords(mem: { read(addr: bigint, n: number): Uint8Array }, t: BtTask): void {
  t.frames.forEach((f, i) => {
    const next = t.frames[i + 1];
    if (!next || f.stack_end) return;
    // a frame's slot holds its return address, printed in brackets, not among its words; only the first frame of a
    // task that was running has the live stack pointer there instead (crash starts at sp itself then)
    const from = BigInt(f.sp) + (i === 0 && !holds(mem, f.sp, f.address) ? 0n : 8n);
    const len = Number(BigInt(next.sp) + 8n - from);
    if (len <= 0 || len > MAX_FRAME_BYTES) return;
    try {
      const b = mem.read(from, len);
      const dv = new DataView(b.buffer, b.byteOffset, len);
      const values: string[] = [];
      for (let o = 0; o + 8 <= len; o += 8) values.push(hex(dv.getBigUint64(o, true)));
      f.words = { from: hex(from), values };
    } catch (e) {
      if (!(e instanceof FaultError)) throw e;
    }
  });
}

/** True when the stack word at `sp` is `value` (a return address slot), false when it is not or cannot be read. */
function holds(mem: { read(addr: bigint, n: number): Uint8Array }, sp: string, value: string): boolean {
  try {
    const b = mem.read(BigInt(sp), 8);
    return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true) === BigInt(value);
  } catch (e) {
    if (e instanceof FaultError) return false;
    throw e;
  }
}

/** crash's layout: "    ADDR: WORD WORD " two words a line. */
function wordLines(w: NonNullable<BtFrame["words"]>): string[] {
  const out: string[] = [];
  const from = BigInt(w.from);
  for (let i = 0; i < w.values.length; i += 2)
    out.push(`    ${(from + BigInt(i * 8)).toString(16).padStart(16, "0")}: ${w.values.slice(i, i + 2).map((v) => v.slice(2) + " ").join("")}`);
  return out;
}

/** The register block crash prints after an exception frame. */
function exceptionLines(e: NonNullable<BtFrame["exception"]>, next: BtFrame | undefined): string[] {
  const r = e.regs;
  const v = (n: string) => r[n]!.slice(2);
  const col = (n: string, label: string) => `${label.padStart(3)}: ${v(n)}`;
  const out: string[] = [];
  if (!e.user) {
    const where = next?.function ? `${next.function}+${next.offset}${next.module ? ` [${next.module}]` : ""}` : v("ip");
    out.push(`    [exception RIP: ${where}]`);
  }
  out.push(`    RIP: ${v("ip")}  RSP: ${v("sp")}  RFLAGS: ${v("flags").slice(8)}`);
  if (e.full) {
    const rows: [string, string][][] = [
      [["ax", "RAX"], ["bx", "RBX"], ["cx", "RCX"]],
      [["dx", "RDX"], ["si", "RSI"], ["di", "RDI"]],
      [["bp", "RBP"], ["r8", "R8"], ["r9", "R9"]],
      [["r10", "R10"], ["r11", "R11"], ["r12", "R12"]],
      [["r13", "R13"], ["r14", "R14"], ["r15", "R15"]],
    ];
    for (const row of rows) out.push("    " + row.map(([n, l]) => col(n, l)).join("  "));
    out.push(`    ORIG_RAX: ${v("orig_ax")}  CS: ${v("cs").slice(12)}  SS: ${v("ss").slice(12)}`);
  } else out.push(`    CS: ${v("cs").slice(12)}  SS: ${v("ss").slice(12)}`);
  return out;
}

/** The context's modules, read on first need; none when they cannot be read (module frames then show no symbol). */
export function modulesOrNone(ctx: AnalyzeContext): ModuleList {
  return () => {
    try {
      return ctx.modules;
    } catch (e) {
      if (e instanceof KdumpError) return [];
      throw e;
    }
  };
}

/** `kdump analyze VMCORE bt [-a | PID…] [-f]`. */
export const btCommand: AnalyzeCommand = {
  describe: "stack traces: the panic task (default), -a every CPU, or PIDs; -f adds each frame's stack words (like crash's bt)",
  run: (ctx) => {
    const args = ctx.opts.args ?? [];
    const words = args.includes("-f");
    const tasks = backtraces(ctx.program, modulesOrNone(ctx), args.filter((a) => a !== "-f"));
    if (words) for (const t of tasks) addStackWords(ctx.kernel, t);
    return { data: { tasks }, text: formatBt(tasks) };
  },
};
