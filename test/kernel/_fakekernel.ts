// A synthetic x86_64 kernel memory image for corner cases the lab dumps do not reach: page tables of either
// depth with 4 KiB / 2 MiB / 1 GiB mappings, a kernel image at a KASLR address with a negative phys_base, and
// VMCOREINFO describing it, written out as an ELF core by the test ELF writer.
import { BufferSource } from "../../lib/dump/source.ts";
import { ElfDump } from "../../lib/dump/elf.ts";
import { elfCore, type NoteSpec } from "../dump/_elfwriter.ts";

export const PAGE = 4096;
const START_KERNEL_MAP = 0xffffffff80000000n;
const PRESENT_RW = 0x3n;
const PSE = 0x80n;

/** Where the direct map starts (page_offset_base without KASLR). */
export const directMapBase = (levels: 4 | 5) => (levels === 5 ? 0xff11000000000000n : 0xffff888000000000n);

export class FakeKernel {
  /** All of physical memory [0, size). */
  readonly phys: Uint8Array;
  /** Physical address of init_top_pgt. */
  readonly pgd: number;
  /** Physical address where the kernel image starts. */
  readonly imagePhys: number;
  private next: number;
  readonly lines: string[] = [];

  constructor(
    readonly levels: 4 | 5,
    /** Virtual address of the kernel image (after the KASLR slide). */
    readonly imageVaddr = 0xffffffff9a000000n,
    /** Physical address of the image; phys_base follows (negative here, as in the lab dumps). */
    imagePhys = 0x200000,
    size = 8 << 20,
  ) {
    this.phys = new Uint8Array(size);
    this.imagePhys = imagePhys;
    this.pgd = imagePhys;
    this.next = imagePhys + (1 << 20); // page tables and data after a 1 MiB image
    this.lines.push("OSRELEASE=6.99.0-fake", "PAGESIZE=4096", `SYMBOL(init_top_pgt)=${this.imageVaddr.toString(16)}`);
    this.lines.push(`NUMBER(phys_base)=${this.physBase}`, `KERNELOFFSET=${(imageVaddr - 0xffffffff81000000n).toString(16)}`);
    this.lines.push(`NUMBER(pgtable_l5_enabled)=${levels === 5 ? 1 : 0}`);
    // the direct map: physical [0, 1 GiB) with one 1 GiB page
    this.map(directMapBase(levels), 0, 3);
  }

  /** NUMBER(phys_base): image physical address minus its offset from __START_KERNEL_map. */
  get physBase(): bigint {
    return BigInt(this.imagePhys) - (this.imageVaddr - START_KERNEL_MAP);
  }

  /** A zeroed physical page (page-aligned). */
  allocPage(n = 1): number {
    const p = this.next;
    this.next += n * PAGE;
    if (this.next > this.phys.length) throw new Error("fake memory full");
    return p;
  }

  /** Direct-map virtual address of a physical address. */
  va(paddr: number): bigint {
    return directMapBase(this.levels) + BigInt(paddr);
  }

  /** Writes bytes at a physical address. */
  write(paddr: number, bytes: Uint8Array): void {
    this.phys.set(bytes, paddr);
  }

  /** Maps `vaddr` to `paddr` with an entry at `level` (1: 4 KiB PTE, 2: 2 MiB PMD, 3: 1 GiB PUD). */
  map(vaddr: bigint, paddr: number, level: 1 | 2 | 3): void {
    const v = new DataView(this.phys.buffer);
    let table = this.pgd;
    for (let l = this.levels; l > level; l--) {
      const slot = table + Number((vaddr >> BigInt(12 + 9 * (l - 1))) & 0x1ffn) * 8;
      let e = v.getBigUint64(slot, true);
      if (!(e & 1n)) {
        e = BigInt(this.allocPage()) | PRESENT_RW;
        v.setBigUint64(slot, e, true);
      }
      table = Number(e & 0x000ffffffffff000n);
    }
    const slot = table + Number((vaddr >> BigInt(12 + 9 * (level - 1))) & 0x1ffn) * 8;
    v.setBigUint64(slot, BigInt(paddr) | PRESENT_RW | (level > 1 ? PSE : 0n), true);
  }

  /** Adds a VMCOREINFO line. */
  info(line: string): void {
    this.lines.push(line);
  }

  /**
   * The image as an ELF core laid out like /proc/vmcore: VMCOREINFO and `cpus` NT_PRSTATUS notes, a PT_LOAD for
   * the kernel image at its virtual address, and one for all memory at its direct-map address.
   */
  elf(cpus = 2): Uint8Array {
    const notes: NoteSpec[] = [];
    for (let i = 0; i < cpus; i++) notes.push({ name: "CORE", type: 1, desc: new Uint8Array(336) });
    notes.push({ name: "VMCOREINFO", type: 0, desc: new TextEncoder().encode(this.lines.join("\n") + "\n") });
    return elfCore(notes, [
      { paddr: BigInt(this.imagePhys), vaddr: this.imageVaddr, data: this.phys.subarray(this.imagePhys, this.imagePhys + (1 << 20)) },
      { paddr: 0n, vaddr: directMapBase(this.levels), data: this.phys },
    ]);
  }

  /** The image opened as a dump. */
  dump(cpus = 2): ElfDump {
    return new ElfDump(new BufferSource(this.elf(cpus)), "fake.vmcore");
  }
}
