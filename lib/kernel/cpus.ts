// The CPUs at the crash: which one panicked (panic_cpu, else crashing_cpu) and, for each NT_PRSTATUS note, the CPU
// and task it belongs to. Notes carry a pid, not a CPU number (idle CPUs all say pid 0), so a note is matched to the
// CPU whose current task has that pid and whose stacks hold the saved SP.
import { FaultError } from "../errors.ts";
import { currentTask, irqStack, onlineCpus, presentCpus, STACK_SIZE } from "./percpu.ts";
import type { KernelProgram } from "./program.ts";
import { unwinderFor } from "../arch/unwinders.ts";
import type { StackRange } from "../arch/x86_64/unwind.ts";

/** A CPU as the crash left it. */
export interface CpuState {
  /** CPU number. */
  cpu: number;
  /** The task it was running (its current task). */
  task: bigint;
  /** Registers saved at the crash (the panicking CPU) or by the crash NMI (the others), by the architecture's names. */
  regs: Readonly<Record<string, bigint>>;
  /** True for the CPU that panicked. */
  panic: boolean;
  /** Set when the CPU's current task cannot be read (e.g. its page was filtered out): why. */
  error?: string;
}

/** The CPU that panicked: panic_cpu (atomic_t, -1 when none), else x86's crashing_cpu; undefined when neither says. */
export function panicCpu(prog: KernelProgram): number | undefined {
  for (const name of ["panic_cpu", "crashing_cpu"]) {
    const at = prog.symbols.lookup(name);
    if (at === undefined) continue;
    const cpu = prog.view.s32(at);
    if (cpu >= 0) return cpu;
  }
  return undefined;
}

/** The stacks a CPU's code may run on: `task`'s stack and the CPU's IRQ stack. */
export function stacksOf(prog: KernelProgram, cpu: number, task: bigint): StackRange[] {
  const out: StackRange[] = [];
  const low = prog.u64(task, "task_struct", "stack");
  if (low) out.push({ name: "task", low, high: low + STACK_SIZE });
  const irq = irqStack(prog, cpu);
  if (irq) out.push({ name: "IRQ", ...irq });
  return out;
}

/**
 * Each NT_PRSTATUS note matched to its CPU, in CPU order.
 * @example cpuStates(prog).find((c) => c.panic)?.task
 */
export function cpuStates(prog: KernelProgram): CpuState[] {
  const notes = unwinderFor(prog.view.dump).prstatus(prog.view.dump);
  // arm64's crash stop takes the other CPUs out of __cpu_online_mask (ipi_cpu_crash_stop): their notes belong to
  // CPUs that are present but no longer online, so those are candidates too when there are more notes than CPUs
  const online = onlineCpus(prog);
  const candidates = notes.length > online.length ? [...online, ...presentCpus(prog).filter((c) => !online.includes(c))] : online;
  const cpus = candidates.map((cpu) => {
    let task = 0n;
    try {
      task = currentTask(prog, cpu);
      return { cpu, task, pid: prog.s32(task, "task_struct", "pid") as number | null, error: undefined as string | undefined };
    } catch (e) {
      if (!(e instanceof FaultError)) throw e;
      return { cpu, task, pid: null, error: `the current task of CPU ${cpu} is not in the dump (${e.message})` };
    }
  });
  const panic = panicCpu(prog);
  const taken = new Set<number>();
  const out: CpuState[] = [];
  const unmatched: typeof notes = [];
  for (const note of notes) {
    // /proc/kcore's one NT_PRSTATUS is a placeholder with every register zero: a live kernel saved none
    if (note.sp === 0n && note.ip === 0n) continue;
    const same = cpus.filter((c) => c.pid !== null && c.pid === note.pid && !taken.has(c.cpu));
    const holds = same.filter((c) => stacks(prog, c.cpu, c.task).some((s) => note.sp >= s.low && note.sp < s.high));
    const c = holds[0] ?? same[0];
    if (!c) {
      unmatched.push(note);
      continue;
    }
    taken.add(c.cpu);
    out.push({ cpu: c.cpu, task: c.task, regs: note.regs, panic: c.cpu === panic });
  }
  // A CPU whose task is unreadable still saved registers: pair such CPUs with the notes left over, in order.
  const unreadable = cpus.filter((c) => c.error);
  unreadable.forEach((c, i) => {
    const note = unmatched[i];
    if (note) out.push({ cpu: c.cpu, task: c.task, regs: note.regs, panic: c.cpu === panic, error: c.error });
  });
  return out.sort((a, b) => a.cpu - b.cpu);
}

/** stacksOf(), or none when the task's stack pointer is not in the dump. */
function stacks(prog: KernelProgram, cpu: number, task: bigint): StackRange[] {
  try {
    return stacksOf(prog, cpu, task);
  } catch (e) {
    if (e instanceof FaultError) return [];
    throw e;
  }
}
