// arm64 translation on synthetic page tables: 4K/48-bit (4 levels), 4K/52-bit with LPA2 (5 levels, output bits
// 51:50 in descriptor bits 9:8), 64K/52-bit (FEAT_LPA: bits 51:48 in 15:12), blocks, and the error paths. The real
// 7.x arm64 dump (a 52-bit LPA2 kernel under QEMU -cpu max) is checked in test/arch/arm64/kernel.test.ts.
import { describe, expect, test } from "bun:test";
import type { Dump } from "../../../lib/dump/dump.ts";
import { FaultError } from "../../../lib/errors.ts";
import { arm64Geometry, Arm64PageTable, outputAddress } from "../../../lib/arch/arm64/pagetable.ts";

/** Physical memory of `size` bytes as a Dump; page tables are built in it by map(). */
class FakeArm64 {
  readonly phys: Uint8Array;
  private next: number;
  readonly pgd: number;
  constructor(
    readonly pageSize: number,
    readonly vaBits: number,
    size = 1 << 22,
  ) {
    this.phys = new Uint8Array(size);
    this.pgd = pageSize;
    this.next = 2 * pageSize;
  }
  private get g() {
    return arm64Geometry(this.pageSize, this.vaBits);
  }
  /** A descriptor for output address `pa` with kind bits `kind` (3 table/page, 1 block), in the geometry's format. */
  desc(pa: bigint, kind: bigint): bigint {
    const g = this.g;
    if (g.lpa2) return (pa & ((1n << 50n) - 1n)) | (((pa >> 50n) & 3n) << 8n) | kind;
    if (g.pageShift === 16) return (pa & ((1n << 48n) - 1n)) | (((pa >> 48n) & 0xfn) << 12n) | kind;
    return pa | kind;
  }
  /** Maps `va` to `pa` with an entry at `level` levels above the last (0 = page, 1 = first block size, …). */
  map(va: bigint, pa: bigint, above = 0): void {
    const g = this.g;
    const v = new DataView(this.phys.buffer);
    let table = this.pgd;
    for (let i = 0; i < g.levels; i++) {
      const left = g.levels - 1 - i;
      const shift = g.pageShift + g.bitsPerLevel * left;
      const width = i === 0 ? this.vaBits - shift : g.bitsPerLevel;
      const slot = table + Number((va >> BigInt(shift)) & ((1n << BigInt(width)) - 1n)) * 8;
      if (left === above) {
        v.setBigUint64(slot, this.desc(pa, left === 0 ? 3n : 1n), true);
        return;
      }
      let d = v.getBigUint64(slot, true);
      if (!d) {
        d = this.desc(BigInt(this.next), 3n);
        this.next += this.pageSize;
        v.setBigUint64(slot, d, true);
      }
      table = Number(outputAddress(d, g, g.pageShift));
    }
  }
  dump(): Dump {
    const phys = this.phys;
    return {
      format: "elf", path: "fake", pageSize: this.pageSize, notes: [], vmcoreinfo: null,
      ranges: [{ start: 0n, end: BigInt(phys.length) }],
      readPhys(paddr: bigint, length: number) {
        if (paddr + BigInt(length) > BigInt(phys.length)) throw new FaultError("not in the fake dump", paddr);
        return phys.subarray(Number(paddr), Number(paddr) + length);
      },
      close() {},
    };
  }
  table(): Arm64PageTable {
    return new Arm64PageTable(this.dump(), { pgd: BigInt(this.pgd), vaBits: this.vaBits, pageSize: this.pageSize });
  }
}

describe("arm64Geometry()", () => {
  test.each([
    [4096, 39, 3, false], [4096, 48, 4, false], [4096, 52, 5, true], [16384, 47, 3, false], [16384, 52, 4, true], [65536, 42, 2, false], [65536, 52, 3, false],
  ])("arm64Geometry() of %i-byte pages and %i-bit VA walks %i levels (LPA2 %p)", (ps, va, levels, lpa2) => {
    const g = arm64Geometry(ps, va);
    expect(g.levels).toBe(levels);
    expect(g.lpa2).toBe(lpa2);
  });
  test("arm64Geometry() refuses a page size arm64 does not have", () => expect(() => arm64Geometry(8192, 48)).toThrow(RangeError));
});

describe("Arm64PageTable on synthetic tables", () => {
  test("4K/48-bit: 4 KiB pages, 2 MiB and 1 GiB blocks translate to what was mapped", () => {
    const f = new FakeArm64(4096, 48);
    f.map(0xffff800080001000n, 0x345000n);
    f.map(0xffff000000200000n, 0x40200000n, 1);
    f.map(0xffff000040000000n, 0x80000000n, 2);
    const pt = f.table();
    expect(pt.translate(0xffff800080001abcn)).toBe(0x345abcn);
    expect(pt.translate(0xffff0000002fedcbn)).toBe(0x402fedcbn);
    expect(pt.translate(0xffff00007fffffffn)).toBe(0xbfffffffn);
  });

  test("4K/48-bit: shareability bits 9:8 of a descriptor are not part of the address", () => {
    const f = new FakeArm64(4096, 48);
    f.map(0xffff800080001000n, 0x345000n | 0x300n); // SH = inner shareable, as the kernel sets it
    expect(f.table().translate(0xffff800080001010n)).toBe(0x345010n);
  });

  test("4K/52-bit LPA2: 5 levels, and output address bits 51:50 come from descriptor bits 9:8", () => {
    const f = new FakeArm64(4096, 52);
    f.map(0xfff0000000001000n, 0xc000000345000n); // bits 51:50 set
    f.map(0xfff8000000200000n, 0x4000000600000n, 1);
    const pt = f.table();
    expect(pt.translate(0xfff0000000001abcn)).toBe(0xc000000345abcn);
    expect(pt.translate(0xfff8000000234567n)).toBe(0x4000000634567n);
  });

  test("64K/52-bit (FEAT_LPA): output address bits 51:48 come from descriptor bits 15:12", () => {
    const f = new FakeArm64(65536, 52, 1 << 24);
    f.map(0xfff0000000010000n, 0xa000000350000n);
    expect(f.table().translate(0xfff000000001abcdn)).toBe(0xa00000035abcdn);
  });

  test("an unmapped address, a user (TTBR0) address and a table outside the dump are FaultErrors", () => {
    const f = new FakeArm64(4096, 48);
    f.map(0xffff800080001000n, 0x345000n);
    const pt = f.table();
    expect(() => pt.translate(0xffff800080002000n)).toThrow("invalid level 3 descriptor");
    expect(() => pt.translate(0x0000aaaa00001000n)).toThrow("not a kernel (TTBR1) address");
    const g = new FakeArm64(4096, 48);
    g.map(0xffff800080001000n, 0x345000n);
    g.map(0xffff800080200000n, 0x7000000000n, 1); // a 2 MiB block far beyond the fake's memory is fine to translate…
    expect(g.table().translate(0xffff800080200010n)).toBe(0x7000000010n);
    const v = new DataView(g.phys.buffer); // …but a table there is not in the dump
    v.setBigUint64(g.pgd + Number((0xffff900000000000n >> 39n) & 0x1ffn) * 8, 0x7000000000n | 3n, true);
    expect(() => g.table().translate(0xffff900000000000n)).toThrow("page table of this address is not in the dump");
  });
});
