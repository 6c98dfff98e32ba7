// The ELF64 core header a capture kernel turns into /proc/vmcore (x86_64 Linux 5.13+ layout; arm64 the same): a PT_NOTE per CPU's
// crash_notes, one for VMCOREINFO, a PT_LOAD for the kernel text and one per System RAM range above 1 MiB outside the
// crash reservation. Same program headers as the kernel's own (arch/x86/kernel/crash.c prepare_elf64_headers).
import type { CrashMachine } from "./crash_machine.ts";

/** A physical memory range to dump, inclusive end as /proc/iomem prints it. */
export interface RamRange {
  /** First byte. */
  start: bigint;
  /** Last byte. */
  end: bigint;
}

/** One program header of the core header. */
export interface CorePhdr {
  /** PT_NOTE (4) or PT_LOAD (1). */
  type: number;
  /** Physical address; also p_offset, which the capture kernel reads from. */
  paddr: bigint;
  /** Virtual address (0 for notes). */
  vaddr: bigint;
  /** Size in memory and in the file. */
  size: bigint;
}

/** Memory the kernel excludes from the dump on x86_64: the first MiB (always reserved since 5.13, never backed up). */
export const LOW_EXCLUDED_END = 0xfffffn;

/** Minimum size of the elfcorehdr segment, as kexec-tools reserves (room for the capture kernel to grow it). */
export const ELFCOREHDR_MIN = 16 * 1024;

/**
 * The RAM ranges to dump: top-level "System RAM" of /proc/iomem minus the first MiB and minus `holes`
 * (the crash reservation, and a low one when there is one).
 * @example dumpRanges(m.iomem, [m.crash]) // [{ start: 0x100000n, end: 0x2effffffn }, { start: 0x3f000000n, … }]
 */
export function dumpRanges(iomem: CrashMachine["iomem"], holes: RamRange[]): RamRange[] {
  let out: RamRange[] = iomem.filter((r) => r.depth === 0 && r.name === "System RAM").map((r) => ({ start: r.start, end: r.end }));
  for (const h of [{ start: 0n, end: LOW_EXCLUDED_END }, ...holes]) out = out.flatMap((r) => subtract(r, h));
  return out.sort((a, b) => (a.start < b.start ? -1 : 1));
}

/** `r` without the part inside `h`: zero, one or two ranges. */
export function subtract(r: RamRange, h: RamRange): RamRange[] {
  if (h.end < r.start || h.start > r.end) return [r];
  const out: RamRange[] = [];
  if (h.start > r.start) out.push({ start: r.start, end: h.start - 1n });
  if (h.end < r.end) out.push({ start: h.end + 1n, end: r.end });
  return out;
}

/**
 * The program headers, in the kernel's order: CPU notes, VMCOREINFO, kernel text, RAM (vaddr = page_offset + paddr).
 * @example corePhdrs(readCrashMachine()).length // CPUs + 1 + 1 + RAM ranges
 */
export function corePhdrs(m: CrashMachine): CorePhdr[] {
  const PT_LOAD = 1;
  const PT_NOTE = 4;
  return [
    ...m.cpuNotes.map((n) => ({ type: PT_NOTE, paddr: n.addr, vaddr: 0n, size: BigInt(n.size) })),
    { type: PT_NOTE, paddr: m.vmcoreinfo.addr, vaddr: 0n, size: BigInt(m.vmcoreinfo.size) },
    { type: PT_LOAD, paddr: m.kernelText.phys, vaddr: m.kernelText.virt, size: BigInt(m.kernelText.size) },
    ...dumpRanges(m.iomem, [m.crash]).map((r) => ({ type: PT_LOAD, paddr: r.start, vaddr: m.pageOffset + r.start, size: r.end - r.start + 1n })),
  ];
}

/**
 * Serialises program headers into an ELF64 little-endian ET_CORE header (Elf64_Ehdr then Elf64_Phdr[]), zero-padded
 * to a 1 KiB multiple of at least 16 KiB. `machine` is the ELF machine of the crashed kernel.
 * @example buildElfcorehdr(corePhdrs(m)).length // 16384
 */
export function buildElfcorehdr(phdrs: CorePhdr[], machine = 62): Uint8Array {
  const EHDR = 64;
  const PHDR = 56;
  const used = EHDR + PHDR * phdrs.length;
  const buf = new Uint8Array(Math.max(ELFCOREHDR_MIN, Math.ceil(used / 1024) * 1024));
  const v = new DataView(buf.buffer);
  const LE = true;
  buf.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0], 0); // e_ident: ELFMAG, ELFCLASS64, ELFDATA2LSB, EV_CURRENT, ELFOSABI_NONE
  v.setUint16(16, 4, LE); // e_type (2): ET_CORE
  v.setUint16(18, machine, LE); // e_machine (2): EM_X86_64 (62), EM_AARCH64 (183)
  v.setUint32(20, 1, LE); // e_version (4): EV_CURRENT
  v.setBigUint64(32, BigInt(EHDR), LE); // e_phoff (8)
  v.setUint16(52, EHDR, LE); // e_ehsize (2)
  v.setUint16(54, PHDR, LE); // e_phentsize (2)
  v.setUint16(56, phdrs.length, LE); // e_phnum (2)
  phdrs.forEach((p, i) => {
    const o = EHDR + i * PHDR;
    v.setUint32(o, p.type, LE); // p_type (4)
    v.setUint32(o + 4, p.type === 1 ? 7 : 0, LE); // p_flags (4): PF_R|PF_W|PF_X for loads
    v.setBigUint64(o + 8, p.paddr, LE); // p_offset (8): the physical address the capture kernel reads
    v.setBigUint64(o + 16, p.vaddr, LE); // p_vaddr (8)
    v.setBigUint64(o + 24, p.paddr, LE); // p_paddr (8)
    v.setBigUint64(o + 32, p.size, LE); // p_filesz (8)
    v.setBigUint64(o + 40, p.size, LE); // p_memsz (8)
  });
  return buf;
}
