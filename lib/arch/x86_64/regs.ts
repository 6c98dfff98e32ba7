// x86_64 registers: struct pt_regs on kernel stacks (exception and interrupt frames) and the CPUs' registers the
// crash saved in NT_PRSTATUS notes (struct elf_prstatus: pr_pid at 32, pr_reg at 112 in user_regs_struct order,
// whose first 21 slots are pt_regs'). Layouts fixed by the x86_64 ABI since 2.6.
import { NT_PRSTATUS } from "../../dump/notes.ts";
import type { Dump } from "../../dump/dump.ts";

/** pt_regs slots, in memory order (arch/x86/include/asm/ptrace.h). */
export const PT_REGS = ["r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx", "si", "di", "orig_ax", "ip", "cs", "flags", "sp", "ss"] as const;

/** A register name. */
export type RegName = (typeof PT_REGS)[number];

/** Register values by name. */
export type Regs = Record<RegName, bigint>;

/** sizeof(struct pt_regs). */
export const PT_REGS_SIZE = PT_REGS.length * 8;

/** Byte offset of a register in pt_regs. */
export function ptRegsOffset(r: RegName): number {
  return PT_REGS.indexOf(r) * 8;
}

/** Registers from the bytes of a pt_regs (or the start of user_regs_struct). */
export function decodeRegs(bytes: Uint8Array): Regs {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, PT_REGS_SIZE);
  const out = {} as Regs;
  PT_REGS.forEach((r, i) => (out[r] = dv.getBigUint64(i * 8, true)));
  return out;
}

/** One CPU's NT_PRSTATUS. */
export interface PrStatus {
  /** pr_pid: the pid of the task that was running (0 for an idle CPU). */
  pid: number;
  /** The registers at the crash (the panicking CPU) or when the crash NMI stopped it (the others). */
  regs: Regs;
  /** Index of the note among the dump's NT_PRSTATUS notes. */
  index: number;
}

/**
 * The NT_PRSTATUS notes of the dump, in note order. Notes are per online CPU, but an offline or unresponsive CPU
 * has none: do not take the index for the CPU number.
 */
export function prstatus(dump: Dump): PrStatus[] {
  const out: PrStatus[] = [];
  for (const n of dump.notes) {
    if (n.name !== "CORE" || n.type !== NT_PRSTATUS || n.desc.length < 112 + PT_REGS_SIZE) continue;
    const dv = new DataView(n.desc.buffer, n.desc.byteOffset, n.desc.length);
    out.push({ pid: dv.getInt32(32, true), regs: decodeRegs(n.desc.subarray(112)), index: out.length });
  }
  return out;
}
