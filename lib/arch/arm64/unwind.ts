// arm64 kernel stack unwinding by frame records, as arch/arm64/kernel/stacktrace.c does it: x29 points at
// {fp, lr}; return addresses have their pointer-authentication bits restored from VMCOREINFO's KERNELPACMASK; an
// entry's pt_regs (6.13+: a frame_record_meta of type PT_REGS, fp = lr = 0) gives the interrupted pc, then its lr
// (the kernel prints them "(P)" and "(L)"), and the walk goes on from its x29; type FINAL ends the task's stack.
// Older kernels chain through pt_regs.stackframe {x29, pc} as through any frame record.
import { FaultError, KdumpError } from "../../errors.ts";
import { NT_PRSTATUS } from "../../dump/notes.ts";
import type { Dump } from "../../dump/dump.ts";
import { type AddressHit, type ModuleList } from "../../kernel/modules.ts";
import type { KernelProgram } from "../../kernel/program.ts";
import type { Frame, StackRange, Trace, UnwindStart } from "../x86_64/unwind.ts";

/** struct user_pt_regs: x0–x30, sp, pc, pstate (arch/arm64/include/uapi/asm/ptrace.h), the start of pt_regs. */
export const USER_PT_REGS = [...Array.from({ length: 31 }, (_, i) => `x${i}`), "sp", "pc", "pstate"] as const;

/** arm64 registers by user_pt_regs name. */
export type Arm64Regs = Record<string, bigint>;

/** One CPU's NT_PRSTATUS on arm64. */
export interface Arm64PrStatus {
  pid: number;
  regs: Arm64Regs;
  index: number;
}

/** The NT_PRSTATUS notes of an arm64 dump (struct elf_prstatus: pr_pid at 32, pr_reg user_pt_regs at 112). */
export function arm64Prstatus(dump: Dump): Arm64PrStatus[] {
  const out: Arm64PrStatus[] = [];
  for (const n of dump.notes) {
    if (n.name !== "CORE" || n.type !== NT_PRSTATUS || n.desc.length < 112 + USER_PT_REGS.length * 8) continue;
    const dv = new DataView(n.desc.buffer, n.desc.byteOffset, n.desc.length);
    const regs: Arm64Regs = {};
    USER_PT_REGS.forEach((r, i) => (regs[r] = dv.getBigUint64(112 + i * 8, true)));
    out.push({ pid: dv.getInt32(32, true), regs, index: out.length });
  }
  return out;
}

/** FRAME_META_TYPE_* of a frame_record_meta (arch/arm64/include/asm/stacktrace/frame.h, 6.13+). */
const FRAME_META_TYPE_FINAL = 1n;
const FRAME_META_TYPE_PT_REGS = 2n;
/** Most frames a trace holds. */
const MAX_FRAMES = 256;

/**
 * A return address with its PAC bits put back: kernel pointers have every bit of KERNELPACMASK set.
 * @example stripPac(0x3c5e8000801234a8n, 0xff7f000000000000n) // 0xff7f8000801234a8n
 */
export function stripPac(lr: bigint, pacMask: bigint): bigint {
  return pacMask && lr >> 55n & 1n ? lr | pacMask : lr & ~pacMask;
}

/** A start at a CPU's saved registers: the exact pc, fp in x29. */
export function arm64StartFromRegs(regs: Arm64Regs): UnwindStart {
  return { ip: regs.pc!, sp: regs.sp!, bp: regs.x29!, signal: true };
}

/** A start for a sleeping task: thread.cpu_context {x19…x28, fp, sp, pc} that cpu_switch_to saved. */
export function arm64StartFromTask(prog: KernelProgram, task: bigint): UnwindStart {
  const at = (m: string) => prog.u64(task, "task_struct", `thread.cpu_context.${m}`);
  return { ip: at("pc"), sp: at("sp"), bp: at("fp"), signal: false };
}

/**
 * Walks the frame records from `start` through the given stacks (task, IRQ).
 * @example arm64Unwind(prog, mods, arm64StartFromRegs(note.regs), stacks).frames.map((f) => f.symbol?.name)
 */
export function arm64Unwind(prog: KernelProgram, mods: ModuleList, start: UnwindStart, stacks: StackRange[]): Trace {
  const v = prog.view;
  const pac = v.info.numbers.get("KERNELPACMASK") ?? 0n;
  const regsSize = safe(() => BigInt(prog.btf.sizeof("pt_regs")));
  const metaAt = safe(() => BigInt(prog.btf.offsetof("pt_regs", "stackframe")));
  const hasMeta = safe(() => prog.btf.hasStruct("frame_record_meta")) ?? false;
  const frames: Frame[] = [];
  const push = (ip: bigint, sp: bigint) => frames.push({ ip, sp, symbol: symbolize(prog, mods, ip) });
  push(start.ip, start.sp);
  let fp = start.bp;
  let prev = 0n;
  let prevStack = stackOf(stacks, fp);
  while (frames.length < MAX_FRAMES) {
    if (fp === 0n) return { frames };
    // 8-byte aligned, as the kernel checks: the frame_record_meta inside pt_regs sits at 8 mod 16
    if (fp & 0x7n) return { frames, error: `frame pointer 0x${hex(fp)} is not 8-byte aligned` };
    const stack = stackOf(stacks, fp);
    if (!stack) return { frames, error: `frame pointer 0x${hex(fp)} is on no known stack` };
    if (stack === prevStack && fp <= prev) return { frames, error: `frame pointer 0x${hex(fp)} does not move up the stack` };
    if (prevStack && stack !== prevStack) frames[frames.length - 1]!.stackEnd = `${prevStack.name} stack`;
    let next: bigint, lr: bigint;
    try {
      next = v.u64(fp);
      lr = v.u64(fp + 8n);
    } catch (e) {
      if (e instanceof FaultError) return { frames, error: `stack at 0x${hex(fp)} is not in the dump` };
      throw e;
    }
    // before 6.13 the task's final frame record (in its pt_regs at the top of the stack) is all zero
    if (next === 0n && lr === 0n && !hasMeta) return { frames };
    if (next === 0n && lr === 0n) {
      // a frame_record_meta inside pt_regs (6.13+): FINAL ends the stack, PT_REGS crosses an exception
      const type = v.u64(fp + 16n);
      if (type === FRAME_META_TYPE_FINAL) return { frames };
      if (type !== FRAME_META_TYPE_PT_REGS || metaAt === undefined || regsSize === undefined) return { frames, error: `unknown frame_record_meta type ${type} at 0x${hex(fp)}` };
      const regs = fp - metaAt;
      const pc = v.u64(regs + 32n * 8n);
      const x30 = stripPac(v.u64(regs + 30n * 8n), pac);
      push(pc, regs);
      push(x30, regs);
      prev = fp;
      prevStack = stack;
      fp = v.u64(regs + 29n * 8n);
      continue;
    }
    push(stripPac(lr, pac), fp + 8n);
    prev = fp;
    prevStack = stack;
    fp = next;
  }
  return { frames, error: `more than ${MAX_FRAMES} frames` };
}

/** A kernel symbol when the address is in the kernel image, else the module that holds it. */
function symbolize(prog: KernelProgram, mods: ModuleList, addr: bigint): AddressHit | undefined {
  const s = prog.symbols;
  const text = s.lookup("_stext");
  const end = s.lookup("_end") ?? s.lookup("_etext");
  if (text !== undefined && end !== undefined && addr >= text && addr < end) return s.symbolize(addr);
  for (const m of mods()) {
    const region = m.regions.find((r) => addr >= r.start && addr < r.end);
    if (!region) continue;
    let best: { name: string; address: bigint; type: string } | undefined;
    let next = region.end;
    for (const sym of m.symbols) {
      if (sym.address <= addr && sym.address >= region.start && (!best || sym.address > best.address)) best = sym;
      if (sym.address > addr && sym.address < next) next = sym.address;
    }
    if (!best) return { name: "", offset: Number(addr - region.start), size: 0, address: region.start, type: "?", module: m.name };
    return { name: best.name, offset: Number(addr - best.address), size: Number(next - best.address), address: best.address, type: best.type, module: m.name };
  }
  return s.symbolize(addr);
}

function stackOf(stacks: StackRange[], addr: bigint): StackRange | undefined {
  return stacks.find((s) => addr >= s.low && addr < s.high);
}

const hex = (v: bigint) => v.toString(16).padStart(16, "0");

function safe<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch (e) {
    if (e instanceof KdumpError || e instanceof RangeError) return undefined;
    throw e;
  }
}
