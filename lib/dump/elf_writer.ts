// Writes an ELF64 core like /proc/vmcore with the excluded pages left out (makedumpfile -E): one PT_NOTE, then
// for each input PT_LOAD one PT_LOAD per run of kept pages. Zero pages take no file space: they end a PT_LOAD as
// p_memsz beyond p_filesz, which ELF readers (crash, makedumpfile, ours) read as zeros. Each kept page is stored
// once; PT_LOADs that map the same frame (kernel text and the direct map) point at the same file bytes.
import type { DumpNote } from "./dump.ts";
import { testBit } from "./bitmap.ts";
import type { DumpSink } from "./sink.ts";

const EHDR = 64;
const PHDR = 56;
const SHDR = 64;
const PT_LOAD = 1;
const PT_NOTE = 4;
const PN_XNUM = 0xffff;

/** A PT_LOAD of the input: physical [paddr, paddr + memsz) seen at virtual vaddr. */
export interface LoadSegment {
  /** p_paddr. */
  paddr: number;
  /** p_vaddr. */
  vaddr: bigint;
  /** p_memsz. */
  memsz: number;
}

/**
 * ELF notes as one block ({namesz, descsz, type, name, desc}, 4-byte aligned), and where each desc starts in it.
 * @example encodeNotes(dump.notes).bytes
 */
export function encodeNotes(notes: DumpNote[]): { bytes: Uint8Array; descAt: number[] } {
  const enc = new TextEncoder();
  const align4 = (n: number) => (n + 3) & ~3;
  const names = notes.map((n) => enc.encode(n.name + "\0"));
  const size = notes.reduce((s, n, i) => s + 12 + align4(names[i]!.length) + align4(n.desc.length), 0);
  const bytes = new Uint8Array(size);
  const v = new DataView(bytes.buffer);
  const descAt: number[] = [];
  let o = 0;
  notes.forEach((n, i) => {
    v.setUint32(o, names[i]!.length, true); // n_namesz (4)
    v.setUint32(o + 4, n.desc.length, true); // n_descsz (4)
    v.setUint32(o + 8, n.type, true); // n_type (4)
    bytes.set(names[i]!, o + 12);
    const d = o + 12 + align4(names[i]!.length);
    bytes.set(n.desc, d);
    descAt.push(d);
    o = d + align4(n.desc.length);
  });
  return { bytes, descAt };
}

/** Frames [startPfn, startPfn + count + zeros): `count` stored from file offset `offset`, then `zeros` zero pages. */
interface Run {
  startPfn: number;
  count: number;
  zeros: number;
  offset: number;
}

/** Streams an ELF core into a DumpSink: begin(), writePages() for every kept frame in order, finish(). */
export class ElfWriter {
  private readonly head: Uint8Array;
  /** Offset of the first page's data. */
  readonly dataAt: number;
  private pos: number;

  constructor(
    private readonly sink: DumpSink,
    opts: {
      /** The PT_LOADs to reproduce (the input's, in its order). */
      segments: LoadSegment[];
      /** Kept frames (bit n%8 of byte n/8). */
      dumpable: Uint8Array;
      /** Frames left out for being zero (read back as zeros), or null. */
      zero: Uint8Array | null;
      /** Frames the bitmap covers. */
      maxMapnr: number;
      pageSize: number;
      notes: DumpNote[];
      /** ELF e_machine of the input (default EM_X86_64, 62; EM_AARCH64 is 183). */
      machine?: number;
    },
  ) {
    const ps = opts.pageSize;
    const runs: Run[] = [];
    let rank = 0;
    for (let pfn = 0; pfn < opts.maxMapnr; pfn++) {
      const kept = testBit(opts.dumpable, pfn);
      if (!kept && !(opts.zero && testBit(opts.zero, pfn))) continue;
      const last = runs[runs.length - 1];
      const joins = last && last.startPfn + last.count + last.zeros === pfn;
      if (kept && joins && !last.zeros) last.count++;
      else if (!kept && joins) last.zeros++;
      else runs.push({ startPfn: pfn, count: kept ? 1 : 0, zeros: kept ? 0 : 1, offset: rank * ps });
      if (kept) rank++;
    }
    // PT_LOADs: each input segment cut to the runs it overlaps
    const loads: { paddr: number; vaddr: bigint; offset: number; filesz: number; memsz: number }[] = [];
    for (const seg of opts.segments) {
      const end = seg.paddr + seg.memsz;
      for (const r of runs) {
        const a = Math.max(seg.paddr, r.startPfn * ps);
        const b = Math.min(end, (r.startPfn + r.count + r.zeros) * ps);
        if (a >= b) continue;
        const filesz = Math.max(0, Math.min(b, (r.startPfn + r.count) * ps) - a);
        loads.push({ paddr: a, vaddr: seg.vaddr + BigInt(a - seg.paddr), offset: filesz ? r.offset + (a - r.startPfn * ps) : 0, filesz, memsz: b - a });
      }
    }
    const { bytes: notes } = encodeNotes(opts.notes);
    const phnum = 1 + loads.length;
    const xnum = phnum >= PN_XNUM;
    const shoff = EHDR + phnum * PHDR;
    const noteAt = shoff + (xnum ? SHDR : 0);
    this.dataAt = Math.ceil((noteAt + notes.length) / ps) * ps;
    this.pos = this.dataAt;

    const h = new Uint8Array(noteAt + notes.length);
    const v = new DataView(h.buffer);
    h.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0); // e_ident: magic, ELFCLASS64, ELFDATA2LSB, EV_CURRENT (16)
    v.setUint16(16, 4, true); // e_type ET_CORE (2)
    v.setUint16(18, opts.machine ?? 62, true); // e_machine (2): the input's, EM_X86_64 by default
    v.setUint32(20, 1, true); // e_version (4)
    v.setBigUint64(32, BigInt(EHDR), true); // e_phoff (8)
    v.setBigUint64(40, xnum ? BigInt(shoff) : 0n, true); // e_shoff (8)
    v.setUint16(52, EHDR, true); // e_ehsize (2)
    v.setUint16(54, PHDR, true); // e_phentsize (2)
    v.setUint16(56, xnum ? PN_XNUM : phnum, true); // e_phnum (2)
    v.setUint16(58, xnum ? SHDR : 0, true); // e_shentsize (2)
    v.setUint16(60, xnum ? 1 : 0, true); // e_shnum (2)
    if (xnum) v.setUint32(shoff + 44, phnum, true); // section 0's sh_info: the real e_phnum (4)
    const ph = (i: number, type: number, offset: number, vaddr: bigint, paddr: number, filesz: number, memsz: number) => {
      const o = EHDR + i * PHDR;
      v.setUint32(o, type, true); // p_type (4)
      v.setUint32(o + 4, type === PT_LOAD ? 7 : 0, true); // p_flags RWX (4)
      v.setBigUint64(o + 8, BigInt(offset), true); // p_offset (8)
      v.setBigUint64(o + 16, vaddr, true); // p_vaddr (8)
      v.setBigUint64(o + 24, BigInt(paddr), true); // p_paddr (8)
      v.setBigUint64(o + 32, BigInt(filesz), true); // p_filesz (8)
      v.setBigUint64(o + 40, BigInt(memsz), true); // p_memsz (8)
    };
    ph(0, PT_NOTE, noteAt, 0n, 0, notes.length, notes.length);
    loads.forEach((l, i) => ph(i + 1, PT_LOAD, l.filesz ? this.dataAt + l.offset : 0, l.vaddr, l.paddr, l.filesz, l.memsz));
    h.set(notes, noteAt);
    this.head = h;
  }

  /** Bytes of the file so far. */
  get size(): number {
    return this.pos;
  }

  /** Writes the ELF header, program headers and notes. */
  async begin(): Promise<void> {
    await this.sink.write(0, this.head);
  }

  /** Writes the next kept pages, in page-frame order. */
  async writePages(pages: Uint8Array): Promise<void> {
    await this.sink.write(this.pos, pages);
    this.pos += pages.length;
  }

  /** Makes the file durable. */
  async finish(): Promise<void> {
    await this.sink.finish();
  }
}
