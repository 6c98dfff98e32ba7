// ELF64 core dumps: /proc/vmcore as the capture kernel exports it and the copies cp/dd/makedumpfile -E make.
// PT_NOTE holds NT_PRSTATUS per CPU and VMCOREINFO; each PT_LOAD maps a physical range to file bytes.
// /proc/kcore (4.19+ has VMCOREINFO) reads the same way: its RAM and kernel-text segments carry physical addresses.
import { allArches, archOfElfMachine } from "../arch/arch.ts";
import { DumpFormatError, FaultError } from "../errors.ts";
import type { Dump, DumpNote, PhysRange } from "./dump.ts";
import { parseNotes, vmcoreinfoText } from "./notes.ts";
import { FAR_BASE, FileSource, le, RebasedSource, type ByteSource, type FarRange } from "./source.ts";

const PT_LOAD = 1;
const PT_NOTE = 4;
/** p_paddr of a /proc/kcore segment that has no physical address. */
const NO_PADDR = 0xffffffffffffffffn;
const ET_CORE = 4;
const PN_XNUM = 0xffff;

/** One PT_LOAD: physical [start, start + memsz) is file bytes from `offset` for `filesz`, zeros after. */
export interface ElfSegment {
  /** p_paddr. */
  paddr: number;
  /** p_vaddr (the kernel's virtual address of the range, informational). */
  vaddr: bigint;
  /** p_offset. */
  offset: number;
  /** p_filesz. */
  filesz: number;
  /** p_memsz. */
  memsz: number;
}

/** A disjoint piece of physical memory backed by one segment (text pages appear in two PT_LOADs). */
interface Piece {
  start: number;
  end: number;
  seg: ElfSegment;
}

/** True when `head` starts with the ELF magic. */
export function isElf(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46;
}

/** An ELF64 little-endian core dump of a machine lib/arch knows (x86_64, arm64). */
export class ElfDump implements Dump {
  readonly pageSize = 4096;
  readonly notes: DumpNote[];
  readonly vmcoreinfo: string | null;
  readonly segments: ElfSegment[];
  readonly machine: string;
  private readonly pieces: Piece[];

  constructor(
    private src: ByteSource,
    readonly path: string,
    /** "elf", or "flat" when `src` is a reassembled flattened file (makedumpfile -F -E). */
    readonly format = "elf",
  ) {
    if (src.size < 64) throw new DumpFormatError(`${path}: ELF header truncated (${src.size} bytes)`, { hint: "the dump is truncated; was it copied completely?" });
    const eh = src.read(0, 64);
    if (!isElf(eh)) throw new DumpFormatError(`${path}: not an ELF file`);
    if (eh[4] !== 2) throw new DumpFormatError(`${path}: ELF class ${eh[4]} is not supported`, { hint: "only 64-bit (ELFCLASS64) dumps are read" });
    if (eh[5] !== 1) throw new DumpFormatError(`${path}: big-endian ELF is not supported`, { hint: "only little-endian dumps are read" });
    const h = le(eh);
    const type = h.u16(16);
    const machine = h.u16(18);
    if (type !== ET_CORE) throw new DumpFormatError(`${path}: ELF type ${type} is not a core dump`, { hint: "give the vmcore, not a vmlinux or module" });
    const arch = archOfElfMachine(machine);
    if (!arch) throw new DumpFormatError(`${path}: ELF machine ${machine} is not one kdump reads`, { hint: `only ${allArches().map((a) => a.name).join(" and ")} dumps are read` });
    this.machine = arch.uname;
    const phoff = h.num(32);
    const phentsize = h.u16(54);
    let phnum = h.u16(56);
    if (phentsize !== 56) throw new DumpFormatError(`${path}: program header size ${phentsize}, expected 56`, { offset: 54, hint: "the ELF header is corrupted" });
    if (phnum === PN_XNUM) phnum = le(src.read(h.num(40), 64)).u32(44); // sh_info of section 0
    if (phoff + phnum * 56 > src.size)
      throw new DumpFormatError(`${path}: ${phnum} program headers run past the end of the file`, { offset: phoff, hint: "the dump is truncated or corrupted" });
    const ph = src.read(phoff, phnum * 56);
    const p = le(ph);
    const notes: DumpNote[] = [];
    const far: FarRange[] = [];
    const segs: ElfSegment[] = [];
    for (let i = 0; i < phnum; i++) {
      const o = i * 56;
      const ptype = p.u32(o);
      // /proc/kcore maps vmalloc, module and vmemmap space with p_paddr -1: no physical range (read via page tables)
      if (ptype === PT_LOAD && p.u64(o + 24) === NO_PADDR) continue;
      // /proc/kcore puts segments past 2^53 bytes into the file (offset = virtual address - PAGE_OFFSET): they are
      // read through compact stand-in offsets (RebasedSource)
      let offset: number;
      const filesz = p.num(o + 32);
      if ((ptype === PT_LOAD || ptype === PT_NOTE) && p.u64(o + 8) + p.u64(o + 32) >= BigInt(FAR_BASE) && src instanceof FileSource) {
        offset = FAR_BASE + far.reduce((n, f) => n + Math.ceil(f.length / 4096) * 4096, 0);
        far.push({ compact: offset, real: p.u64(o + 8), length: filesz });
        if (ptype === PT_NOTE) throw new DumpFormatError(`${path}: notes past 2^52 bytes into the file`, { hint: "the ELF header is corrupted" });
        if (ptype === PT_LOAD) segs.push({ paddr: p.num(o + 24), vaddr: p.u64(o + 16), offset, filesz, memsz: p.num(o + 40) });
        continue;
      }
      offset = p.num(o + 8);
      if ((ptype === PT_LOAD || ptype === PT_NOTE) && offset + filesz > src.size)
        throw new DumpFormatError(`${path}: segment ${i} ends at 0x${(offset + filesz).toString(16)} but the file has ${src.size} bytes`, {
          offset: phoff + o,
          hint: "the dump is truncated; was it copied completely?",
        });
      if (ptype === PT_NOTE) notes.push(...parseNotes(src.read(offset, filesz).slice(), offset));
      if (ptype === PT_LOAD) segs.push({ paddr: p.num(o + 24), vaddr: p.u64(o + 16), offset, filesz, memsz: p.num(o + 40) });
    }
    this.notes = notes;
    this.vmcoreinfo = vmcoreinfoText(notes);
    this.segments = segs;
    if (far.length) this.src = new RebasedSource(src as FileSource, far);
    this.pieces = disjoint(segs);
  }

  get ranges(): PhysRange[] {
    const out: PhysRange[] = [];
    for (const pc of this.pieces) {
      const last = out[out.length - 1];
      if (last && last.end === BigInt(pc.start)) last.end = BigInt(pc.end);
      else out.push({ start: BigInt(pc.start), end: BigInt(pc.end) });
    }
    return out;
  }

  readPhys(paddr: bigint, length: number, zeroFill = false): Uint8Array {
    const out = new Uint8Array(length);
    let pos = 0;
    let addr = Number(paddr);
    while (pos < length) {
      const pc = this.find(addr);
      if (!pc) {
        if (!zeroFill) throw new FaultError("physical address not in the dump", BigInt(addr));
        const next = this.pieces.find((x) => x.start > addr);
        const gap = Math.min(length - pos, next ? next.start - addr : Infinity);
        pos += gap;
        addr += gap;
        continue;
      }
      const take = Math.min(length - pos, pc.end - addr);
      const rel = addr - pc.seg.paddr;
      const fromFile = Math.max(0, Math.min(take, pc.seg.filesz - rel));
      if (fromFile > 0) out.set(this.src.read(pc.seg.offset + rel, fromFile), pos);
      pos += take;
      addr += take;
    }
    return out;
  }

  private find(addr: number): Piece | undefined {
    let lo = 0;
    let hi = this.pieces.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const pc = this.pieces[mid]!;
      if (addr < pc.start) hi = mid - 1;
      else if (addr >= pc.end) lo = mid + 1;
      else return pc;
    }
    return undefined;
  }

  close(): void {
    this.src.close();
  }
}

/** Sorted, non-overlapping pieces; where PT_LOADs overlap, the one starting first wins (the bytes are the same). */
function disjoint(segs: ElfSegment[]): Piece[] {
  const sorted = [...segs].filter((s) => s.memsz > 0).sort((a, b) => a.paddr - b.paddr);
  const out: Piece[] = [];
  let covered = -1;
  for (const seg of sorted) {
    const end = seg.paddr + seg.memsz;
    if (end <= covered) continue;
    out.push({ start: Math.max(seg.paddr, covered), end, seg });
    covered = end;
  }
  return out;
}
