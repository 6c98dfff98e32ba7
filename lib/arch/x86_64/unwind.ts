// Kernel stack unwinding as arch/x86/kernel/unwind_orc.c does it: ORC entries give the caller's SP, BP and the
// kind of frame; pt_regs frames (exceptions, interrupts, syscalls) are crossed with their registers kept; IRQ and
// exception stacks are left where the entry code switched. Frame pointers are the fallback where ORC has no entry.
import { FaultError, KdumpError } from "../../errors.ts";
import { type AddressHit, inModuleArea, type ModuleList, symbolizeAddress } from "../../kernel/modules.ts";
import { OrcReg, OrcType, type OrcEntry } from "./orc.ts";
import type { KernelProgram } from "../../kernel/program.ts";
import { decodeRegs, PT_REGS_SIZE, ptRegsOffset, type Regs } from "./regs.ts";

/** Registers an exception or interrupt entry saved on the stack (struct pt_regs). */
export interface ExceptionFrame {
  /** Address of the pt_regs on the stack. */
  address: bigint;
  /** The registers; for a partial (IRET-only) frame only ip, cs, flags, sp and ss are meaningful. */
  regs: Regs;
  /** False for an IRET frame without the general registers (ORC REGS_PARTIAL). */
  full: boolean;
  /** True when the interrupted code was user space (the syscall or interrupt entry from user mode). */
  user: boolean;
}

/** One frame of a trace. */
export interface Frame {
  /** The instruction: where the first frame (or an interrupted one) was, else a return address. */
  ip: bigint;
  /** The stack slot shown in brackets, as crash shows it: where the return address was read, or the SP at ip. */
  sp: bigint;
  /** The function, offset and module of ip (undefined when no symbol covers it). */
  symbol?: AddressHit;
  /** The registers this frame's code saved when it was entered by an exception or interrupt (printed after it). */
  exception?: ExceptionFrame;
  /** Set when this is the last frame on a stack the trace then leaves, e.g. "IRQ stack". */
  stackEnd?: string;
}

/** A walk's result. */
export interface Trace {
  /** Frames, innermost first. */
  frames: Frame[];
  /** Why the walk stopped before the end of the stack, when it did. */
  error?: string;
}

/** Where a walk starts. */
export interface UnwindStart {
  /** Instruction address. */
  ip: bigint;
  /** Stack pointer. */
  sp: bigint;
  /** Frame pointer register (ORC restores it; frame-pointer kernels chain through it). */
  bp: bigint;
  /** Full registers when known (a CPU's saved registers): ORC may base the SP on R10, R13, DI or DX. */
  regs?: Regs;
  /** True when ip is the exact instruction (registers of an interrupted CPU), false for a return address. */
  signal: boolean;
  /** The bracketed stack slot of the first frame (default sp). */
  slot?: bigint;
}

/** A named stack range. */
export interface StackRange {
  /** "task", "IRQ" or "exception". */
  name: string;
  /** Lowest address. */
  low: bigint;
  /** One past the highest address. */
  high: bigint;
}

/** Most frames a trace holds. */
const MAX_FRAMES = 256;
/** cpu_entry_area (exception stacks: NMI, #DB, #MC, #DF): fixed since 4.15. */
const CEA_LOW = 0xfffffe0000000000n;
const CEA_HIGH = 0xfffffe8000000000n;

/**
 * Unwinds from `start`. `stacks` are the ranges known to belong to this task and CPU (its task stack, the CPU's
 * IRQ stack); other stacks in the cpu_entry_area are exception stacks. Never throws for unreadable memory: the
 * trace stops there with `error` set.
 * Modules are read (and their ORC tables joined) only when the walk reaches module code.
 * @example unwind(prog, () => mods, startFromRegs(cpu.regs), stacks).frames.map((f) => f.symbol?.name)
 */
export function unwind(prog: KernelProgram, mods: ModuleList, start: UnwindStart, stacks: StackRange[]): Trace {
  const frames: Frame[] = [];
  const v = prog.view;
  let { ip, sp, bp, signal } = start;
  let regs: Regs | undefined = start.regs;
  let fullRegs = start.regs !== undefined;
  const push = (slot: bigint) => frames.push({ ip, sp: slot, symbol: safe(() => symbolizeAddress(prog, mods, ip)) });
  push(start.slot ?? sp);
  try {
    while (frames.length < MAX_FRAMES) {
      const last = frames[frames.length - 1]!;
      let orc: OrcEntry | undefined;
      try {
        if (inModuleArea(ip)) mods();
        orc = prog.orc.find(signal ? ip : ip - 1n);
      } catch (e) {
        if (!(e instanceof KdumpError)) throw e;
      }
      const oldSp = sp;
      let slot: bigint;
      if (!orc || orc.type === OrcType.UNDEFINED) {
        // Code objtool skipped (kexec_core.o, whose crash_setup_regs() moves the SP) has no ORC: find the return
        // address of a direct call to this function above the SP; else follow frame pointers ([bp] = caller's bp,
        // [bp + 8] = return address) when the kernel keeps them.
        const caller = callSite(prog, mods, last, sp, stacks);
        if (caller !== undefined) {
          slot = caller;
          sp = caller + 8n;
        } else if (bp && sameStack(stacks, bp, sp) && bp >= sp) {
          slot = bp + 8n;
          sp = bp + 16n;
          bp = v.u64(bp);
        } else return { frames, error: `no unwind information for ${where(last)}` };
        ip = v.u64(slot);
        regs = undefined;
        fullRegs = false;
        signal = false;
      } else {
        if (orc.type === OrcType.END_OF_STACK) return { frames };
        let cfa: bigint;
        let indirect = false;
        switch (orc.spReg) {
          case OrcReg.SP:
            cfa = sp + BigInt(orc.spOffset);
            break;
          case OrcReg.BP:
            cfa = bp + BigInt(orc.spOffset);
            break;
          case OrcReg.SP_INDIRECT:
            cfa = sp;
            indirect = true;
            break;
          case OrcReg.BP_INDIRECT:
            cfa = bp + BigInt(orc.spOffset);
            indirect = true;
            break;
          case OrcReg.R10:
          case OrcReg.R13:
          case OrcReg.DI:
          case OrcReg.DX: {
            const r = ({ [OrcReg.R10]: "r10", [OrcReg.R13]: "r13", [OrcReg.DI]: "di", [OrcReg.DX]: "dx" } as const)[orc.spReg];
            if (!regs || !fullRegs) return { frames, error: `the SP of ${where(last)} is in ${r}, which was not saved` };
            cfa = regs[r];
            break;
          }
          default:
            return { frames, error: `unknown ORC SP register ${orc.spReg} at ${where(last)}` };
        }
        if (indirect) {
          cfa = v.u64(cfa);
          if (orc.spReg === OrcReg.SP_INDIRECT) cfa += BigInt(orc.spOffset);
        }
        const oldBp = bp;
        if (orc.type === OrcType.CALL) {
          slot = cfa - 8n;
          ip = v.u64(slot);
          sp = cfa;
          regs = undefined;
          fullRegs = false;
          signal = false;
        } else {
          const full = orc.type === OrcType.REGS;
          // A partial frame is just the IRET frame: pt_regs from ip on (IRET_FRAME_OFFSET = offsetof(pt_regs, ip)).
          const address = full ? cfa : cfa - BigInt(ptRegsOffset("ip"));
          const r = full ? decodeRegs(v.read(address, PT_REGS_SIZE)) : iretRegs(v.read(address + BigInt(ptRegsOffset("ip")), 40));
          const user = (r.cs & 3n) !== 0n;
          last.exception = { address, regs: r, full, user };
          if (user) return { frames };
          ip = r.ip;
          sp = r.sp;
          slot = r.sp;
          regs = r;
          fullRegs = full;
          signal = true;
        }
        switch (orc.bpReg) {
          case OrcReg.UNDEFINED:
            if (regs && fullRegs && orc.type === OrcType.REGS) bp = regs.bp;
            break;
          case OrcReg.PREV_SP:
            bp = v.u64(cfa + BigInt(orc.bpOffset));
            break;
          case OrcReg.BP:
            bp = v.u64(oldBp + BigInt(orc.bpOffset));
            break;
          default:
            return { frames, error: `unknown ORC BP register ${orc.bpReg} at ${where(last)}` };
        }
      }
      const from = stackOf(stacks, oldSp);
      const to = stackOf(stacks, sp);
      if (from !== to && from !== "task") last.stackEnd = `${from} stack`;
      else if (from === to && sp <= oldSp) return { frames, error: `the stack goes the wrong way after ${where(last)}` };
      if (ip === 0n) return { frames };
      push(slot);
    }
    return { frames, error: `stopped after ${MAX_FRAMES} frames` };
  } catch (e) {
    if (e instanceof FaultError) return { frames, error: `stack unreadable after ${where(frames[frames.length - 1]!)}: ${e.message}` };
    throw e;
  }
}

/** A start at a CPU's saved registers (NT_PRSTATUS): the exact instruction, all registers known. */
export function startFromRegs(regs: Regs): UnwindStart {
  return { ip: regs.ip, sp: regs.sp, bp: regs.bp, regs, signal: true };
}

/**
 * A start for a task that is not running: its saved thread.sp points at struct inactive_task_frame
 * {r15, r14, r13, r12, bx, bp, ret_addr} that __switch_to_asm pushed.
 */
export function startFromTask(prog: KernelProgram, task: bigint): UnwindStart {
  const sp = prog.u64(task, "task_struct", "thread.sp");
  const btf = prog.btf;
  const has = btf.hasStruct("inactive_task_frame");
  const at = (m: string, fixed: number) => sp + BigInt(has ? btf.offsetof("inactive_task_frame", m) : fixed);
  const size = BigInt(has ? btf.sizeof("inactive_task_frame") : 56);
  const retSlot = at("ret_addr", 48);
  const ip = prog.view.u64(retSlot);
  // A task that has never run returns into ret_from_fork(_asm), which is a frame of its own kind.
  const fork = [prog.symbols.lookup("ret_from_fork_asm"), prog.symbols.lookup("ret_from_fork")];
  return { ip, sp: sp + size, bp: prog.view.u64(at("bp", 40)), signal: fork.includes(ip), slot: retSlot };
}

/** How far above the SP callSite() looks for a return address (bytes). */
const SCAN_BYTES = 1024;

/**
 * The stack slot, at or above `sp` on the same stack, holding a return address just after a direct call (e8 rel32)
 * to the function `frame` is in; undefined when there is none.
 */
function callSite(prog: KernelProgram, mods: ModuleList, frame: Frame, sp: bigint, stacks: StackRange[]): bigint | undefined {
  const fn = frame.symbol;
  if (!fn || !fn.name) return undefined;
  const range = stacks.find((s) => sp >= s.low && sp < s.high);
  const len = Number(range ? (range.high - sp < SCAN_BYTES ? range.high - sp : BigInt(SCAN_BYTES)) : BigInt(SCAN_BYTES)) & ~7;
  let words: Uint8Array;
  try {
    words = prog.view.read(sp, len);
  } catch (e) {
    if (e instanceof KdumpError) return undefined;
    throw e;
  }
  const dv = new DataView(words.buffer, words.byteOffset, len);
  for (let o = 0; o + 8 <= len; o += 8) {
    const ret = dv.getBigUint64(o, true);
    if (ret < 0xffffffff80000000n) continue;
    const call = safe(() => prog.view.read(ret - 5n, 5));
    if (!call || call[0] !== 0xe8) continue;
    const target = ret + BigInt(new DataView(call.buffer, call.byteOffset + 1, 4).getInt32(0, true));
    if (target === fn.address && safe(() => symbolizeAddress(prog, mods, ret))) return sp + BigInt(o);
  }
  return undefined;
}

function iretRegs(b: Uint8Array): Regs {
  const dv = new DataView(b.buffer, b.byteOffset, 40);
  const r = Object.fromEntries(["r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx", "si", "di", "orig_ax"].map((k) => [k, 0n])) as Regs;
  r.ip = dv.getBigUint64(0, true);
  r.cs = dv.getBigUint64(8, true);
  r.flags = dv.getBigUint64(16, true);
  r.sp = dv.getBigUint64(24, true);
  r.ss = dv.getBigUint64(32, true);
  return r;
}

function stackOf(stacks: StackRange[], addr: bigint): string {
  for (const s of stacks) if (addr >= s.low && addr < s.high) return s.name;
  return addr >= CEA_LOW && addr < CEA_HIGH ? "exception" : "unknown";
}

function sameStack(stacks: StackRange[], a: bigint, b: bigint): boolean {
  const s = stackOf(stacks, a);
  return s !== "unknown" && s === stackOf(stacks, b);
}

function where(f: Frame): string {
  const s = f.symbol;
  return s ? `${s.name}+0x${s.offset.toString(16)}${s.module ? ` [${s.module}]` : ""}` : `0x${f.ip.toString(16).padStart(16, "0")}`;
}

function safe<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch (e) {
    if (e instanceof KdumpError) return undefined;
    throw e;
  }
}
