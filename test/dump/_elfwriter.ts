// A small ELF64 core writer for test fixtures: the layout /proc/vmcore has (one PT_NOTE, then PT_LOADs), with
// each fixed field annotated by its size. Used for corner cases real dumps do not reach.

/** A note to write. */
export interface NoteSpec {
  name: string;
  type: number;
  desc: Uint8Array;
}

/** A PT_LOAD to write: `data` at physical `paddr`; `memsz` beyond data.length reads as zeros. */
export interface LoadSpec {
  paddr: bigint;
  vaddr?: bigint;
  data: Uint8Array;
  memsz?: number;
}

const align = (n: number, a: number) => Math.ceil(n / a) * a;

/** Encodes ELF notes ({namesz, descsz, type, name, desc}, 4-byte padded). */
export function noteBlock(notes: NoteSpec[]): Uint8Array {
  const enc = new TextEncoder();
  const parts = notes.map((n) => {
    const name = enc.encode(n.name + "\0");
    const b = new Uint8Array(12 + align(name.length, 4) + align(n.desc.length, 4));
    const v = new DataView(b.buffer);
    v.setUint32(0, name.length, true); // n_namesz (4)
    v.setUint32(4, n.desc.length, true); // n_descsz (4)
    v.setUint32(8, n.type, true); // n_type (4)
    b.set(name, 12);
    b.set(n.desc, 12 + align(name.length, 4));
    return b;
  });
  return concat(parts);
}

/** An ELF64 little-endian x86_64 ET_CORE file. */
export function elfCore(notes: NoteSpec[], loads: LoadSpec[]): Uint8Array {
  const note = noteBlock(notes);
  const phnum = 1 + loads.length;
  const phoff = 64;
  let offset = align(phoff + phnum * 56 + note.length, 4096);
  const offsets = loads.map((l) => {
    const o = offset;
    offset = align(offset + l.data.length, 4096);
    return o;
  });
  const out = new Uint8Array(offset);
  const v = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0); // e_ident: magic, ELFCLASS64, ELFDATA2LSB, EV_CURRENT (16)
  v.setUint16(16, 4, true); // e_type ET_CORE (2)
  v.setUint16(18, 62, true); // e_machine EM_X86_64 (2)
  v.setUint32(20, 1, true); // e_version (4)
  v.setBigUint64(32, BigInt(phoff), true); // e_phoff (8)
  v.setUint16(52, 64, true); // e_ehsize (2)
  v.setUint16(54, 56, true); // e_phentsize (2)
  v.setUint16(56, phnum, true); // e_phnum (2)
  const ph = (i: number, type: number, off: number, vaddr: bigint, paddr: bigint, filesz: number, memsz: number) => {
    const o = phoff + i * 56;
    v.setUint32(o, type, true); // p_type (4)
    v.setUint32(o + 4, 7, true); // p_flags RWX (4)
    v.setBigUint64(o + 8, BigInt(off), true); // p_offset (8)
    v.setBigUint64(o + 16, vaddr, true); // p_vaddr (8)
    v.setBigUint64(o + 24, paddr, true); // p_paddr (8)
    v.setBigUint64(o + 32, BigInt(filesz), true); // p_filesz (8)
    v.setBigUint64(o + 40, BigInt(memsz), true); // p_memsz (8)
  };
  const noteAt = phoff + phnum * 56;
  ph(0, 4, noteAt, 0n, 0n, note.length, note.length);
  out.set(note, noteAt);
  loads.forEach((l, i) => {
    ph(i + 1, 1, offsets[i]!, l.vaddr ?? 0xffff888000000000n + l.paddr, l.paddr, l.data.length, l.memsz ?? l.data.length);
    out.set(l.data, offsets[i]!);
  });
  return out;
}

/** Joins byte arrays. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
