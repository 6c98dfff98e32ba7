// Per-CPU variables: a per-CPU symbol's (zero-based on x86_64) address plus __per_cpu_offset[cpu]; the CPUs the
// kernel knew (nr_cpu_ids, __cpu_online_mask); each CPU's current task (pcpu_hot.current_task 6.2+, current_task
// before, runqueues.curr as the last resort) and its hard IRQ stack.
import { BadDataError, MissingDataError } from "../errors.ts";
import type { KernelProgram } from "./program.ts";

/** THREAD_SIZE and IRQ_STACK_SIZE on x86_64 without KASAN (16 KiB). */
export const STACK_SIZE = 16384n;

/**
 * The address of per-CPU variable `name` on `cpu`.
 * @example perCpuAddress(prog, "runqueues", 0)
 */
export function perCpuAddress(prog: KernelProgram, name: string, cpu: number): bigint {
  return (prog.sym(name) + perCpuOffset(prog, cpu)) & 0xffffffffffffffffn;
}

/** __per_cpu_offset[cpu]. */
export function perCpuOffset(prog: KernelProgram, cpu: number): bigint {
  return prog.view.u64(prog.sym("__per_cpu_offset") + BigInt(cpu * 8));
}

/** The most CPUs an x86_64 kernel can have (CONFIG_NR_CPUS with MAXSMP: NR_CPUS_RANGE_END). */
export const NR_CPUS_MAX = 8192;

/** nr_cpu_ids: how many CPU numbers the kernel used; BadDataError when it is 0 or past NR_CPUS_MAX. */
export function nrCpuIds(prog: KernelProgram): number {
  const at = prog.sym("nr_cpu_ids");
  const n = prog.view.u32(at);
  if (n === 0 || n > NR_CPUS_MAX)
    throw new BadDataError(`nr_cpu_ids at 0x${at.toString(16).padStart(16, "0")} is ${n}, not a CPU count (1 to ${NR_CPUS_MAX})`, {
      hint: "the dump's kernel data is corrupted: try another dump of this crash, or --system-map if the symbols are wrong",
    });
  return n;
}

/** The CPUs set in __cpu_online_mask at the crash, ascending. */
export function onlineCpus(prog: KernelProgram): number[] {
  const n = nrCpuIds(prog);
  const bits = prog.view.read(prog.sym("__cpu_online_mask"), Math.ceil(n / 64) * 8);
  const out: number[] = [];
  for (let cpu = 0; cpu < n; cpu++) if (bits[cpu >> 3]! & (1 << (cpu & 7))) out.push(cpu);
  return out;
}

/** The CPUs set in __cpu_present_mask, ascending (arm64's crash stop clears the others' online bits, not these). */
export function presentCpus(prog: KernelProgram): number[] {
  const n = nrCpuIds(prog);
  const bits = prog.view.read(prog.sym("__cpu_present_mask"), Math.ceil(n / 64) * 8);
  const out: number[] = [];
  for (let cpu = 0; cpu < n; cpu++) if (bits[cpu >> 3]! & (1 << (cpu & 7))) out.push(cpu);
  return out;
}

/** The task running on `cpu` when the dump was taken. */
export function currentTask(prog: KernelProgram, cpu: number): bigint {
  const s = prog.symbols;
  // 6.2's 64d2f0fc9c1d "x86/percpu: Move current_task to pcpu_hot" moved it into struct pcpu_hot.
  if (s.lookup("pcpu_hot") !== undefined) return prog.view.u64(perCpuAddress(prog, "pcpu_hot", cpu) + BigInt(prog.off("pcpu_hot", "current_task")));
  if (s.lookup("current_task") !== undefined) return prog.view.u64(perCpuAddress(prog, "current_task", cpu));
  if (s.lookup("runqueues") !== undefined) return prog.u64(perCpuAddress(prog, "runqueues", cpu), "rq", "curr");
  throw new MissingDataError("cannot find the current task of a CPU: no pcpu_hot, current_task or runqueues symbol");
}

/** The idle task of `cpu` (runqueues.idle). */
export function idleTask(prog: KernelProgram, cpu: number): bigint {
  return prog.u64(perCpuAddress(prog, "runqueues", cpu), "rq", "idle");
}

/** [low, high) of `cpu`'s hard IRQ stack, from hardirq_stack_ptr (its top), or undefined when unknown. */
export function irqStack(prog: KernelProgram, cpu: number): { low: bigint; high: bigint } | undefined {
  let top: bigint | undefined;
  const s = prog.symbols;
  if (s.lookup("pcpu_hot") !== undefined && prog.btf.has("pcpu_hot", "hardirq_stack_ptr"))
    top = prog.view.u64(perCpuAddress(prog, "pcpu_hot", cpu) + BigInt(prog.off("pcpu_hot", "hardirq_stack_ptr")));
  else if (s.lookup("hardirq_stack_ptr") !== undefined) top = prog.view.u64(perCpuAddress(prog, "hardirq_stack_ptr", cpu));
  else if (s.lookup("irq_stack_ptr") !== undefined) {
    // arm64: irq_stack_ptr is the IRQ stack's base (IRQ_STACK_SIZE = THREAD_SIZE)
    const low = prog.view.u64(perCpuAddress(prog, "irq_stack_ptr", cpu));
    return low ? { low, high: low + STACK_SIZE } : undefined;
  }
  if (!top) return undefined;
  // hardirq_stack_ptr points 8 bytes below the top of the IRQ stack (irq_stack_backing_store + IRQ_STACK_SIZE - 8).
  const high = (top + 8n) & ~7n;
  return { low: high - STACK_SIZE, high };
}
