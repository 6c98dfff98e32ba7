// ElfDump reads what binutils' readelf sees in a real /proc/vmcore copy (program headers, one NT_PRSTATUS per
// CPU) and serves physical reads from the right file bytes; synthetic cores cover zero-filled tails, overlaps,
// holes and damaged headers.
import { beforeAll, describe, expect, test } from "bun:test";
import { closeSync, openSync, readSync } from "node:fs";
import { $ } from "bun";
import { DumpFormatError, FaultError } from "../../lib/errors.ts";
import { ElfDump } from "../../lib/dump/elf.ts";
import { NT_PRSTATUS } from "../../lib/dump/notes.ts";
import { BufferSource, FileSource } from "../../lib/dump/source.ts";
import type { LabDump } from "../lab/dumps.ts";
import { elfCore } from "./_elfwriter.ts";
import { LINES, sysrqDump } from "./_peers.ts";

const LAB = 900_000;

describe.each(LINES)("ElfDump on a %s crash", (line) => {
  let lab: LabDump;
  let dump: ElfDump;
  let loads: { offset: number; paddr: number; filesz: number }[];
  beforeAll(async () => {
    lab = await sysrqDump(line);
    dump = new ElfDump(new FileSource(lab.vmcore), lab.vmcore);
    const text = await $`readelf -lW ${lab.vmcore}`.text();
    loads = [...text.matchAll(/^\s*LOAD\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)/gm)].map((m) => ({
      offset: Number(m[1]),
      paddr: Number(m[2]),
      filesz: Number(m[3]),
    }));
  }, LAB);

  test("segments are readelf's PT_LOADs", () => {
    expect(loads.length).toBeGreaterThanOrEqual(3);
    expect(dump.segments.map((s) => ({ offset: s.offset, paddr: s.paddr, filesz: s.filesz }))).toEqual(loads);
  });

  test("has one NT_PRSTATUS note per CPU and the VMCOREINFO of the crashed release", async () => {
    const notes = await $`readelf -nW ${lab.vmcore}`.text();
    const prstatus = notes.split("\n").filter((l) => /^\s*CORE\s.*NT_PRSTATUS/.test(l)).length;
    expect(prstatus).toBe(2);
    expect(dump.notes.filter((n) => n.name === "CORE" && n.type === NT_PRSTATUS)).toHaveLength(prstatus);
    expect(dump.vmcoreinfo).toContain(`OSRELEASE=${lab.kernel.release}\n`);
  });

  test("readPhys() returns the file bytes readelf's headers place there, across page and segment ends", () => {
    const fd = openSync(lab.vmcore, "r");
    try {
      for (const l of loads)
        for (const rel of [0, 4090, Math.floor(l.filesz / 2) + 17, l.filesz - 100]) {
          const want = new Uint8Array(100);
          readSync(fd, want, 0, 100, l.offset + rel);
          expect(Buffer.from(dump.readPhys(BigInt(l.paddr + rel), 100))).toEqual(Buffer.from(want));
        }
    } finally {
      closeSync(fd);
    }
  });

  test("ranges cover each PT_LOAD and nothing in the crashkernel hole", () => {
    for (const l of loads) expect(dump.ranges.some((r) => r.start <= BigInt(l.paddr) && BigInt(l.paddr + l.filesz) <= r.end)).toBe(true);
    const end = dump.ranges[0]!.end;
    expect(() => dump.readPhys(end, 8)).toThrow(FaultError);
  });
});

describe("ElfDump on synthetic cores", () => {
  const page = (b: number) => new Uint8Array(4096).fill(b);
  const core = elfCore(
    [{ name: "VMCOREINFO", type: 0, desc: new TextEncoder().encode("OSRELEASE=x\n") }],
    [
      { paddr: 0x1000n, data: page(1), memsz: 0x3000 }, // 0x2000–0x4000 read as zeros
      { paddr: 0x1000n, data: page(9) }, // overlaps the first: the first one wins
      { paddr: 0x10000n, data: page(2) },
    ],
  );
  const dump = new ElfDump(new BufferSource(core), "synthetic");

  test("readPhys() reads zeros past p_filesz and across a hole only with zeroFill", () => {
    expect([...dump.readPhys(0x1ffen, 4)]).toEqual([1, 1, 0, 0]);
    expect(() => dump.readPhys(0x3ffen, 4)).toThrow("physical address not in the dump: 0x0000000000004000");
    const z = dump.readPhys(0x3ffen, 0xc004, true);
    expect([z[0], z[1], z[2], z[0xc001], z[0xc002], z[0xc003]]).toEqual([0, 0, 0, 0, 2, 2]);
  });

  test("ranges merge and sort the PT_LOADs", () => {
    expect(dump.ranges).toEqual([
      { start: 0x1000n, end: 0x4000n },
      { start: 0x10000n, end: 0x11000n },
    ]);
    expect(dump.vmcoreinfo).toBe("OSRELEASE=x\n");
  });

  test.each([
    ["truncated inside a segment", (b: Uint8Array) => b.slice(0, b.length - 10), "segment 3 ends at"],
    ["ELF32", (b: Uint8Array) => b.slice().fill(1, 4, 5), "ELF class 1 is not supported"],
    ["not a core", (b: Uint8Array) => b.slice().fill(2, 16, 17), "is not a core dump"],
    ["another machine", (b: Uint8Array) => b.slice().fill(21, 18, 19), "ELF machine 21 is not one kdump reads"], // EM_PPC64: no lib/arch folder
    ["program headers past the end", (b: Uint8Array) => b.slice().fill(0x7f, 57, 58), "program headers run past the end"],
  ])("a core %s is a DumpFormatError", (_what, mutate, message) => {
    const bad = mutate(core);
    expect(() => new ElfDump(new BufferSource(bad), "bad")).toThrow(DumpFormatError);
    expect(() => new ElfDump(new BufferSource(bad), "bad")).toThrow(message);
  });
});
