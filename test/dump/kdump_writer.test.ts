// Our kdump-compressed output judged by makedumpfile 1.7.2 and Debian's crash 8.0.2 on lab dumps: byte-identical
// to makedumpfile -l and -c (with the system's liblzo2 and libz), read back by makedumpfile and crash with the same log and bt.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, openSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $ } from "bun";
import { analyze } from "../../lib/analyze/command.ts";
import { openDump } from "../../lib/dump/open.ts";
import { KdumpDump } from "../../lib/dump/kdump_compressed.ts";
import { KdumpWriter } from "../../lib/dump/kdump_writer.ts";
import { FileSink } from "../../lib/dump/sink.ts";
import { compressBatch } from "../../lib/dump/codecs/batch.ts";
import { FaultError } from "../../lib/errors.ts";
import { makedumpfileOutput, sysrqDump, vmcoreDmesg } from "./_peers.ts";
import { collectTemp, dumpFolder, makedumpfileCounts } from "./_makedumpfile.ts";
import { anonDump, thpDump } from "../lab/thp_dump.ts";
import { debugKernel } from "../kernel/_images.ts";
import type { LabDump } from "../lab/dumps.ts";

const SCENARIOS: Record<string, (line: string) => Promise<LabDump>> = { sysrq: sysrqDump, anon: anonDump, thp: thpDump };

/** makedumpfile --dump-dmesg of `file` (its log reader on our output vs on the ELF). */
async function mdfDmesg(file: string): Promise<string> {
  const tmp = mkdtempSync(join(tmpdir(), "mdf-dmesg-"));
  try {
    const r = await $`makedumpfile --dump-dmesg ${file} ${join(tmp, "log")}`.quiet().nothrow();
    if (r.exitCode !== 0) throw new Error(`makedumpfile --dump-dmesg ${file} failed: ${r.stderr.toString().slice(-300)}`);
    return readFileSync(join(tmp, "log"), "latin1");
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

describe("collect() kdump-compressed output on 6.1", () => {
  // lzo through liblzo2 and zlib through libz: the libraries and calls makedumpfile -l and -c make
  test.each(Object.keys(SCENARIOS).flatMap((s) => [[s, "lzo", "l"], [s, "zlib", "c"]] as const))("has makedumpfile's headers, bitmaps and page bytes, and its size (%s dump, %s, makedumpfile -%s -d 31)", async (scenario, compress, mode) => {
    const { vmcore } = await SCENARIOS[scenario]!("6.1");
    const r = await collectTemp(vmcore, { compress });
    try {
      const ours = readFileSync(join(dumpFolder(r.dir), "vmcore"));
      const theirs = readFileSync(await makedumpfileOutput(vmcore, mode));
      expect(ours.length).toBe(theirs.length);
      // header, sub header with notes, both bitmaps: everything before the page_desc table
      const descAt = (1 + ours.readInt32LE(432) + ours.readUInt32LE(436)) * 4096;
      expect(ours.subarray(0, descAt).equals(theirs.subarray(0, descAt))).toBe(true);
      // each page's stored bytes and flags (we store the kernel image and the log first, so offsets differ)
      const n = r.pagesWritten + r.excluded.zero;
      const pages = (f: Buffer) =>
        Array.from({ length: n }, (_, i) => {
          const at = descAt + i * 24;
          const off = Number(f.readBigUInt64LE(at));
          return `${f.readUInt32LE(at + 12)}:${f.subarray(off, off + f.readUInt32LE(at + 8)).toString("base64")}`;
        });
      const [a, b] = [pages(ours), pages(theirs)];
      expect(a.filter((p, i) => p !== b[i]).length).toBe(0);
    } finally {
      r.cleanup();
    }
  }, 300_000);

  test.each(Object.keys(SCENARIOS))("with zlib is at most 5%% larger than makedumpfile -c -d 31 and counts the same zero pages (%s dump)", async (scenario) => {
    const { vmcore } = await SCENARIOS[scenario]!("6.1");
    const r = await collectTemp(vmcore, { compress: "zlib" });
    try {
      const theirs = statSync(await makedumpfileOutput(vmcore, "c")).size;
      const counts = await makedumpfileCounts(vmcore);
      const said = `${vmcore}: ours ${r.bytes} bytes, ${r.pagesWritten} pages written, excluded ${JSON.stringify(r.excluded)}; makedumpfile ${theirs} bytes, ${JSON.stringify(counts)}`;
      expect(r.bytes / theirs, said).toBeLessThan(1.05);
      expect(r.excluded.zero, said).toBe(counts.zero);
    } finally {
      r.cleanup();
    }
  }, 300_000);

  test("is read by makedumpfile (--dump-dmesg) and crash (log, bt) as they read the ELF dump", async () => {
    const { vmcore } = await sysrqDump("6.1");
    const r = await collectTemp(vmcore, { compress: "zlib" });
    try {
      const ours = join(dumpFolder(r.dir), "vmcore");
      expect(await mdfDmesg(ours)).toBe(await mdfDmesg(vmcore));
      const { vmlinux } = await debugKernel("6.1");
      const crash = async (f: string) => (await $`printf 'log\nbt\nquit\n' | crash -s ${vmlinux} ${f}`.quiet().nothrow()).stdout.toString();
      const out = await crash(ours);
      expect(out).toContain("Kernel panic - not syncing: sysrq triggered crash");
      expect(out).toContain("sysrq_handle_crash at");
      expect(out).toBe(await crash(vmcore));
    } finally {
      r.cleanup();
    }
  }, 300_000);
});

describe("collect() kdump-compressed output, read by our analyze", () => {
  test.each([
    ["6.1", "sysrq", "zstd"],
    ["6.12", "sysrq", "zlib"],
    ["6.12", "thp", "zstd"],
  ])("has the log vmcore-dmesg reads from the ELF dump, and the same bt (%s %s, %s)", async (line, scenario, compress) => {
    const { vmcore } = await SCENARIOS[scenario]!(line);
    const r = await collectTemp(vmcore, { compress });
    try {
      const folder = dumpFolder(r.dir);
      const expected = (await vmcoreDmesg(vmcore)).toString("latin1");
      expect(analyze(join(folder, "vmcore"), "log")).toBe(expected);
      expect(readFileSync(join(folder, "vmcore-dmesg.txt"), "latin1")).toBe(expected);
      const bt = analyze(join(folder, "vmcore"), "bt");
      expect(bt).toContain("sysrq_handle_crash");
      expect(bt).toBe(analyze(vmcore, "bt"));
    } finally {
      r.cleanup();
    }
  }, 300_000);

  test("on the 6.12 THP dump is a fraction of makedumpfile's, which keeps the THP pages", async () => {
    const { vmcore } = await thpDump("6.12");
    const r = await collectTemp(vmcore, { compress: "zlib" });
    try {
      const theirs = statSync(await makedumpfileOutput(vmcore, "c")).size;
      expect(r.bytes / theirs).toBeLessThan(0.2);
    } finally {
      r.cleanup();
    }
  }, 300_000);
});

describe("KdumpWriter", () => {
  test("a dump cut short is marked incomplete: written pages read back, the rest fault as not written", async () => {
    const { vmcore } = await sysrqDump("6.1");
    const src = openDump(vmcore);
    const tmp = mkdtempSync(join(tmpdir(), "kw-"));
    try {
      const ranges = src.ranges;
      const maxMapnr = Number(ranges[ranges.length - 1]!.end / 4096n);
      const dumpable = new Uint8Array(Math.ceil(maxMapnr / 8));
      const first = Number(ranges[0]!.start / 4096n);
      for (let p = first; p < first + 64; p++) dumpable[p >>> 3]! |= 1 << (p & 7);
      const path = join(tmp, "vmcore-incomplete");
      const w = new KdumpWriter(new FileSink(openSync(path, "wx", 0o600), path), {
        pageSize: 4096, maxMapnr, present: [[first, first + 64]], dumpable, numDumpable: 64, level: 31, codecFlag: 0x20,
        utsname: { sysname: "Linux", nodename: "t", release: "r", version: "v", machine: "x86_64", domainname: "" },
        timestamp: 0, nrCpus: 1, physBase: 0n, notes: src.notes,
      });
      await w.begin();
      const pages = src.readPhys(BigInt(first) * 4096n, 32 * 4096);
      await w.writeBatch(compressBatch({ pages, count: 32, pageSize: 4096, codec: "zstd", detectZero: true }), [[0, 32]]);
      // no finish(): the process "died" here
      const d = openDump(path) as KdumpDump;
      expect(d.header.status & 0x8).toBe(0x8);
      expect(Buffer.from(d.readPhys(BigInt(first + 31) * 4096n, 4096)).equals(Buffer.from(pages.subarray(31 * 4096)))).toBe(true);
      expect(() => d.readPhys(BigInt(first + 32) * 4096n, 8)).toThrow(FaultError);
      d.close();
    } finally {
      src.close();
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
