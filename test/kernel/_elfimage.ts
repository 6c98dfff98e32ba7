// A vmlinux ELF executable as test memory: its sections by name and reads by link-time virtual address
// (the kernel before KASLR), so parsers written for a dump's memory run on the image the dump came from.
import { readFileSync } from "node:fs";

/** One section header. */
export interface ElfSection {
  /** Section name. */
  name: string;
  /** sh_type (1 PROGBITS, 8 NOBITS). */
  type: number;
  /** sh_addr. */
  addr: bigint;
  /** sh_offset. */
  offset: number;
  /** sh_size. */
  size: number;
}

/** An ELF64 executable read whole into memory (tests only). */
export class ElfImage {
  readonly bytes: Uint8Array;
  readonly sections: ElfSection[] = [];
  /** PT_LOAD segments: link-time address, file offset, file size. */
  private readonly loads: { vaddr: bigint; offset: number; size: number }[] = [];
  private readonly dv: DataView;

  constructor(path: string) {
    this.bytes = new Uint8Array(readFileSync(path));
    this.dv = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    const phoff = Number(this.dv.getBigUint64(0x20, true));
    for (let i = 0, n = this.dv.getUint16(0x38, true); i < n; i++) {
      const o = phoff + i * 56;
      if (this.dv.getUint32(o, true) !== 1) continue; // PT_LOAD
      this.loads.push({ vaddr: this.dv.getBigUint64(o + 0x10, true), offset: Number(this.dv.getBigUint64(o + 8, true)), size: Number(this.dv.getBigUint64(o + 0x20, true)) });
    }
    const shoff = Number(this.dv.getBigUint64(0x28, true));
    const shnum = this.dv.getUint16(0x3c, true);
    const shstrndx = this.dv.getUint16(0x3e, true);
    const strOff = Number(this.dv.getBigUint64(shoff + shstrndx * 64 + 0x18, true));
    for (let i = 0; i < shnum; i++) {
      const o = shoff + i * 64;
      let nameOff = strOff + this.dv.getUint32(o, true);
      let name = "";
      while (this.bytes[nameOff]) name += String.fromCharCode(this.bytes[nameOff++]!);
      this.sections.push({
        name,
        type: this.dv.getUint32(o + 4, true),
        addr: this.dv.getBigUint64(o + 0x10, true),
        offset: Number(this.dv.getBigUint64(o + 0x18, true)),
        size: Number(this.dv.getBigUint64(o + 0x20, true)),
      });
    }
  }

  /** The bytes of section `name` (a view). */
  section(name: string): Uint8Array {
    const s = this.sections.find((x) => x.name === name);
    if (!s) throw new Error(`no section ${name}`);
    return this.bytes.subarray(s.offset, s.offset + s.size);
  }

  /** `length` bytes at link-time address `vaddr`, from the PT_LOAD segment holding them. */
  read(vaddr: bigint, length: number): Uint8Array {
    const s = this.loads.find((x) => vaddr >= x.vaddr && vaddr + BigInt(length) <= x.vaddr + BigInt(x.size));
    if (!s) throw new Error(`address 0x${vaddr.toString(16)} (${length} bytes) not in a PT_LOAD segment`);
    const o = s.offset + Number(vaddr - s.vaddr);
    return this.bytes.subarray(o, o + length);
  }
}

/** A System.map as a name → address map (first occurrence wins) and its lines. */
export function readSystemMap(path: string): { addr: Map<string, bigint>; lines: { addr: bigint; type: string; name: string }[] } {
  const addr = new Map<string, bigint>();
  const lines: { addr: bigint; type: string; name: string }[] = [];
  for (const l of readFileSync(path, "utf8").split("\n")) {
    const [a, type, name] = l.split(" ");
    if (!name) continue;
    const v = BigInt("0x" + a);
    lines.push({ addr: v, type: type!, name });
    if (!addr.has(name)) addr.set(name, v);
  }
  return { addr, lines };
}
