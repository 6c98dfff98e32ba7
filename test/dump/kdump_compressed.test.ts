// KdumpDump reads Debian makedumpfile's -c (zlib) and -l (lzo) output of real crashes page for page as the ELF
// original holds them, and reports excluded pages as absent; our writer proves snappy, zstd and mixed codecs and
// the damaged-file paths.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BadDataError, DumpFormatError, errorLine, FaultError } from "../../lib/errors.ts";
import type { Dump } from "../../lib/dump/dump.ts";
import { KdumpDump } from "../../lib/dump/kdump_compressed.ts";
import { openDump } from "../../lib/dump/open.ts";
import { BufferSource } from "../../lib/dump/source.ts";
import { FakeKernel } from "../kernel/_fakekernel.ts";
import { writeKdump, type CodecName } from "./_kdumpwriter.ts";
import { LINES, makedumpfileOutput, ourKdump, sysrqDump } from "./_peers.ts";
import { removeScratch, scratchDir } from "../_scratch.ts";

afterAll(removeScratch);

const LAB = 900_000;

/** Every `stride`-th page `kd` holds equals `elf`'s; returns how many pages were compared. */
function samePages(kd: Dump, elf: Dump, stride = 1): number {
  let n = 0;
  for (const r of kd.ranges)
    for (let a = r.start; a < r.end; a += 4096n * BigInt(stride), n++) {
      const ours = kd.readPhys(a, 4096);
      const want = elf.readPhys(a, 4096);
      if (Buffer.compare(Buffer.from(ours), Buffer.from(want)) !== 0) throw new Error(`page 0x${a.toString(16)} differs`);
    }
  return n;
}

describe.each(LINES)("KdumpDump on makedumpfile output of a %s crash", (line) => {
  let elf: Dump;
  const files: Record<string, string> = {};
  beforeAll(async () => {
    const lab = await sysrqDump(line);
    elf = openDump(lab.vmcore);
    for (const m of ["c", "l"] as const) files[m] = await makedumpfileOutput(lab.vmcore, m);
    for (const c of ["snappy", "zstd"] as const) files[c] = await ourKdump(lab.vmcore, c);
  }, LAB);

  test.each(["c", "l"])("-%s -d 31: header, VMCOREINFO and notes are the crashed kernel's", (m) => {
    const kd = openDump(files[m]!) as KdumpDump;
    expect(kd.format).toBe("kdump");
    expect(kd.header.version).toBe(6);
    expect(kd.header.dumpLevel).toBe(31);
    expect(kd.header.nrCpus).toBe(2);
    expect(kd.header.utsname.release).toBe(/OSRELEASE=(.*)/.exec(elf.vmcoreinfo!)![1]!);
    expect(kd.header.physBase).toBe(BigInt(/NUMBER\(phys_base\)=(-?\d+)/.exec(elf.vmcoreinfo!)![1]!));
    expect(kd.vmcoreinfo).toBe(elf.vmcoreinfo);
    expect(kd.notes.map((n) => [n.name, n.type, Buffer.from(n.desc).toString("hex")])).toEqual(elf.notes.map((n) => [n.name, n.type, Buffer.from(n.desc).toString("hex")]));
  });

  // makedumpfile's files hold ~35k pages each; ours keep every zero page too, so a quarter of them are compared
  test.each([
    ["c", 1],
    ["l", 1],
    ["snappy", 4],
    ["zstd", 4],
  ] as const)("%s: every dumped page (1 in %i) equals the ELF dump's page", (m, stride) => {
    const kd = openDump(files[m]!);
    const n = samePages(kd, elf, stride);
    expect(n).toBeGreaterThan(10_000);
    kd.close();
  }, 120_000);

  test("-c -d 31: pages filtered out read as absent, or as zeros with zeroFill", () => {
    const kd = openDump(files.c!);
    const gap = kd.ranges[0]!.end; // the first page after the first dumped run was excluded
    expect(() => kd.readPhys(gap, 8)).toThrow(FaultError);
    expect(() => kd.readPhys(gap, 8)).toThrow("page excluded from the dump (makedumpfile -d 31)");
    expect([...kd.readPhys(gap - 4n, 8, true)]).toEqual([...elf.readPhys(gap - 4n, 4), 0, 0, 0, 0]);
    const total = elf.ranges.reduce((n, r) => n + (r.end - r.start), 0n);
    const kept = kd.ranges.reduce((n, r) => n + (r.end - r.start), 0n);
    expect(kept).toBeLessThan(total);
  });
});

describe("KdumpDump on synthetic files", () => {
  const f = new FakeKernel(4);
  for (let i = 0; i < 256; i++) f.phys[i * 4096 + (i % 4000)] = i || 1; // a marker byte in each page
  const elf = f.dump();
  const dir = scratchDir("kdump-kc-");
  const write = (name: string, codec: CodecName | ((pfn: number) => CodecName), exclude?: (pfn: number) => boolean) => {
    const p = join(dir, name);
    writeKdump(elf, p, { codec, exclude });
    return p;
  };
  const mixed = write("mixed", (pfn) => (["raw", "zlib", "lzo", "snappy", "zstd"] as const)[pfn % 5]!, (pfn) => pfn % 7 === 3);

  test("mixed raw/zlib/lzo/snappy/zstd pages read back as written; excluded ones are absent", () => {
    const kd = openDump(mixed) as KdumpDump;
    expect(kd.header.status & 0x27).toBe(0x27);
    for (let pfn = 0; pfn < 256; pfn++) {
      const a = BigInt(pfn * 4096);
      if (pfn % 7 === 3) expect(() => kd.readPhys(a, 1)).toThrow(FaultError);
      else expect(Buffer.from(kd.readPhys(a, 4096))).toEqual(Buffer.from(elf.readPhys(a, 4096)));
    }
    expect(kd.ranges[0]).toEqual({ start: 0n, end: 3n * 4096n });
  });

  /** The mixed file with one page_desc (of the first dumped page) changed. */
  const withDesc = (edit: (d: DataView) => void) => {
    const b = new Uint8Array(readFileSync(mixed));
    const kd = openDump(mixed) as KdumpDump;
    const descAt = (1 + kd.header.subHdrSize + kd.header.bitmapBlocks) * 4096;
    edit(new DataView(b.buffer, descAt, 24));
    return new KdumpDump(new BufferSource(b), "edited");
  };

  test("a page_desc of zeros (an incomplete dump) is absent; one pointing past the end is a DumpFormatError", () => {
    const zeroed = withDesc((d) => {
      d.setBigUint64(0, 0n, true);
      d.setUint32(8, 0, true);
    });
    expect(() => zeroed.readPhys(0n, 1)).toThrow("page not written: the dump is incomplete");
    expect(() => withDesc((d) => d.setBigUint64(0, 1n << 40n, true)).readPhys(0n, 1)).toThrow(DumpFormatError);
  });

  test("an unknown compression flag or damaged compressed data is a BadDataError", () => {
    expect(() => withDesc((d) => d.setUint32(12, 0x40, true)).readPhys(0n, 1)).toThrow("unknown method (flags 0x40)");
    const p = write("zlib", "zlib");
    const b = new Uint8Array(readFileSync(p));
    const kd = openDump(p) as KdumpDump;
    const descAt = (1 + kd.header.subHdrSize + kd.header.bitmapBlocks) * 4096;
    const at = Number(new DataView(b.buffer).getBigUint64(descAt, true));
    b.fill(0x55, at, at + 8);
    expect(() => new KdumpDump(new BufferSource(b), "x").readPhys(0n, 1)).toThrow(BadDataError);
    // the line names the file, the page frame and where its data lies
    expect(() => new KdumpDump(new BufferSource(b), "x").readPhys(0n, 1)).toThrow(`x: page of pfn 0x0 (data at file offset 0x${at.toString(16)}, `);
  });

  test.each([
    ["block_size 0", 428, 0, "block_size 0 is not a page size"],
    ["huge bitmap_blocks", 436, 0x7fffffff, "run past the end of the file"],
    ["huge max_mapnr", 440, 0x7fffffff, "exceeds the bitmap"],
    ["header_version 0", 8, 0, "header_version 0"],
  ])("a header with %s is a DumpFormatError", (_what, at, value, message) => {
    const b = new Uint8Array(readFileSync(write("h", "raw")));
    new DataView(b.buffer).setInt32(at, value, true);
    if (at === 440) new DataView(b.buffer).setInt32(8, 5, true); // before version 6 max_mapnr comes from here
    expect(() => new KdumpDump(new BufferSource(b), "x")).toThrow(DumpFormatError);
    expect(() => new KdumpDump(new BufferSource(b), "x")).toThrow(message);
  });

  test("one part of a split dump asks to be reassembled first", () => {
    const b = new Uint8Array(readFileSync(write("s", "raw")));
    new DataView(b.buffer).setInt32(4096 + 12, 1, true);
    let error: unknown;
    try {
      new KdumpDump(new BufferSource(b), "x");
    } catch (e) {
      error = e;
    }
    expect(errorLine(error)).toBe("x: one part of a split dump: join the parts first with makedumpfile --reassemble");
  });
});
