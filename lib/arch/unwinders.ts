// Each architecture's stack unwinder behind one interface, keyed by lib/arch's names: the CPUs' saved registers
// (NT_PRSTATUS), where a trace starts (a CPU's registers or a sleeping task's saved context) and the walk itself.
// x86_64 unwinds by ORC (lib/arch/x86_64/unwind.ts), arm64 by frame records (lib/arch/arm64/unwind.ts).
import type { Dump } from "../dump/dump.ts";
import type { ModuleList } from "../kernel/modules.ts";
import type { KernelProgram } from "../kernel/program.ts";
import { archOfDump, type ArchName } from "./arch.ts";
import { arm64Prstatus, arm64StartFromRegs, arm64StartFromTask, arm64Unwind, USER_PT_REGS } from "./arm64/unwind.ts";
import { prstatus, PT_REGS, type Regs } from "./x86_64/regs.ts";
import { startFromRegs, startFromTask, unwind, type StackRange, type Trace, type UnwindStart } from "./x86_64/unwind.ts";

/** A CPU's saved registers, with its instruction and stack pointers named the same on every architecture. */
export interface SavedCpu {
  /** pr_pid: the task that was running (0 for an idle CPU). */
  pid: number;
  /** The registers by the architecture's names. */
  regs: Readonly<Record<string, bigint>>;
  /** Instruction pointer (rip, pc). */
  ip: bigint;
  /** Stack pointer (rsp, sp). */
  sp: bigint;
  /** Index of the note among the dump's NT_PRSTATUS notes. */
  index: number;
}

/** What bt needs of an architecture. */
export interface Unwinder {
  /** The NT_PRSTATUS notes, in note order. */
  prstatus(dump: Dump): SavedCpu[];
  /** A start at a CPU's saved registers. */
  startFromRegs(regs: Readonly<Record<string, bigint>>): UnwindStart;
  /** A start for a task that is not running. */
  startFromTask(prog: KernelProgram, task: bigint): UnwindStart;
  /** The walk. */
  unwind(prog: KernelProgram, mods: ModuleList, start: UnwindStart, stacks: StackRange[]): Trace;
  /** The names of an exception frame's registers, in the order bt --json lists them. */
  regNames: readonly string[];
}

const UNWINDERS: Record<ArchName, Unwinder> = {
  x86_64: {
    prstatus: (dump) => prstatus(dump).map((n) => ({ ...n, ip: n.regs.ip, sp: n.regs.sp })),
    startFromRegs: (regs) => startFromRegs(regs as Regs),
    startFromTask,
    unwind,
    regNames: PT_REGS,
  },
  arm64: {
    prstatus: (dump) => arm64Prstatus(dump).map((n) => ({ ...n, ip: n.regs.pc!, sp: n.regs.sp! })),
    startFromRegs: (regs) => arm64StartFromRegs(regs as Record<string, bigint>),
    startFromTask: arm64StartFromTask,
    unwind: arm64Unwind,
    regNames: USER_PT_REGS,
  },
};

/**
 * The unwinder for a dump's architecture.
 * @example unwinderFor(prog.view.dump).prstatus(prog.view.dump).length // CPUs that saved registers
 */
export function unwinderFor(dump: Dump): Unwinder {
  return UNWINDERS[archOfDump(dump).name];
}
