import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CrashMachine } from "../../lib/load/crash_machine.ts";
import { labMachine, reservation } from "./_crash_machine.ts";
import { buildElfcorehdr, corePhdrs, dumpRanges, subtract } from "../../lib/load/elfcorehdr.ts";
import { labDump } from "../lab/dumps.ts";
import { removeScratch, scratchDir } from "../_scratch.ts";

afterAll(removeScratch);

function machine(): CrashMachine {
  return labMachine({
    cpuNotes: [{ addr: 0x3dc19a38n, size: 0x150 }, { addr: 0x3dd19a38n, size: 0x150 }],
    vmcoreinfo: { addr: 0x2d44d000n, size: 0x1024 },
    kernelText: { virt: 0xffffffffb5c00000n, phys: 0x2b400000n, size: 0x2830000 },
    pageOffset: 0xff425b9900000000n,
  });
}

/** readelf -lW of a file as [type, offset, vaddr, paddr, filesz, memsz, flags]. */
async function readelf(bytes: Uint8Array): Promise<string[][]> {
  const f = join(scratchDir("kdump-elfcorehdr-"), "hdr");
  writeFileSync(f, bytes);
  const out = (await Bun.$`readelf -hlW ${f}`.quiet()).stdout.toString();
  expect(out).toContain("CORE (Core file)");
  expect(out).toContain("Advanced Micro Devices X86-64");
  return [...out.matchAll(/^\s+(LOAD|NOTE)\s+(\S+) (\S+) (\S+) (\S+) (\S+)\s+(\S*)/gm)].map((m) => m.slice(1));
}

describe("elfcorehdr", () => {
  test("buildElfcorehdr() is read by readelf with notes, kernel text and RAM in the kernel's order", async () => {
    const m = machine();
    const hdr = buildElfcorehdr(corePhdrs(m));
    expect(hdr.length).toBe(16384);
    const ph = await readelf(hdr);
    expect(ph.map((p) => p[0])).toEqual(["NOTE", "NOTE", "NOTE", "LOAD", "LOAD", "LOAD"]);
    expect(ph[0]!.slice(1, 6)).toEqual(["0x3dc19a38", "0x0000000000000000", "0x000000003dc19a38", "0x000150", "0x000150"]);
    expect(ph[2]![1]).toBe("0x2d44d000");
    expect(ph[3]!.slice(1, 7)).toEqual(["0x2b400000", "0xffffffffb5c00000", "0x000000002b400000", "0x2830000", "0x2830000", "RWE"]);
    expect(ph[4]!.slice(1, 6)).toEqual(["0x100000", "0xff425b9900100000", "0x0000000000100000", "0x2ef00000", "0x2ef00000"]);
  });

  test("dumpRanges() of the lab guest's /proc/iomem equals the RAM PT_LOADs of the kernel's own elfcorehdr", async () => {
    // Oracle: the vmcore of a crash on the same guest loaded with kexec_file_load, whose elfcorehdr the kernel built.
    const ref = await labDump({ line: "6.1", scenario: "sysrq" });
    const out = (await Bun.$`readelf -lW ${ref.vmcore}`.quiet()).stdout.toString();
    const kernelRam = [...out.matchAll(/^\s+LOAD\s+\S+ (0x[0-9a-f]+) (0x[0-9a-f]+) \S+ (0x[0-9a-f]+)/gm)]
      .filter((m) => BigInt(m[1]!) < 0xffffffff80000000n)
      .map((m) => [BigInt(m[2]!), BigInt(m[2]!) + BigInt(m[3]!) - 1n]);
    const m = machine();
    expect(dumpRanges(m.iomem, [reservation(ref.console)]).map((r) => [r.start, r.end])).toEqual(kernelRam);
  });

  test("buildElfcorehdr() grows past 16 KiB in 1 KiB steps when the headers need it", () => {
    const many = Array.from({ length: 300 }, (_, i) => ({ type: 1, paddr: BigInt(i) << 20n, vaddr: 0n, size: 4096n }));
    const hdr = buildElfcorehdr(many);
    expect(hdr.length).toBe(Math.ceil((64 + 56 * 300) / 1024) * 1024);
    expect(new DataView(hdr.buffer).getUint16(56, true)).toBe(300);
  });

  test("subtract() splits, trims and keeps ranges", () => {
    const r = { start: 0x1000n, end: 0x8fffn };
    expect(subtract(r, { start: 0x3000n, end: 0x3fffn })).toEqual([{ start: 0x1000n, end: 0x2fffn }, { start: 0x4000n, end: 0x8fffn }]);
    expect(subtract(r, { start: 0x0n, end: 0x1fffn })).toEqual([{ start: 0x2000n, end: 0x8fffn }]);
    expect(subtract(r, { start: 0x8000n, end: 0xffffn })).toEqual([{ start: 0x1000n, end: 0x7fffn }]);
    expect(subtract(r, { start: 0x9000n, end: 0xffffn })).toEqual([r]);
    expect(subtract(r, { start: 0x0n, end: 0xffffn })).toEqual([]);
  });
});
