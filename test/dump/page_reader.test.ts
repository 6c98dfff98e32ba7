// PageReader.plan() + runReads(), what a compression worker runs on its own descriptor of /proc/vmcore, fill a
// buffer exactly as PageReader.read() does on a real ELF dump: frames inside a PT_LOAD, across the end of one and the
// start of the next, and past the last (zeros).
import { afterAll, describe, expect, test } from "bun:test";
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { openDump } from "../../lib/dump/open.ts";
import { ElfDump } from "../../lib/dump/elf.ts";
import { PageReader, runReads, VmcoreWindows } from "../../lib/dump/page_reader.ts";
import { sysrqDump } from "./_peers.ts";

describe("PageReader.plan() on the 6.1 sysrq dump", () => {
  const fds: number[] = [];
  afterAll(() => fds.forEach((fd) => closeSync(fd)));

  test("runs the same bytes as read(), at every PT_LOAD edge and past the end", async () => {
    const { vmcore } = await sysrqDump("6.1");
    const dump = openDump(vmcore) as ElfDump;
    const reader = new PageReader(dump);
    const fd = openSync(vmcore, "r");
    fds.push(fd);
    const ps = dump.pageSize;
    const loads = dump.segments.filter((s) => s.memsz > 0 && s.paddr < 2 ** 40);
    expect(loads.length).toBeGreaterThan(1);
    // around each segment's start and end, a run of 40 frames; and the last frame plus 8 that no segment holds
    const starts = loads.flatMap((s) => [s.paddr / ps - 20, (s.paddr + s.memsz) / ps - 20].map(Math.floor)).filter((p) => p >= 0);
    const last = Math.max(...loads.map((s) => (s.paddr + s.memsz) / ps));
    let zeros = 0;
    for (const pfn of [...starts, last - 1]) {
      const want = new Uint8Array(48 * ps).fill(0xaa);
      const got = new Uint8Array(48 * ps).fill(0x55);
      reader.read(pfn, 40, want, 8 * ps);
      const ops: number[] = [];
      reader.plan(pfn, 40, 8 * ps, ops);
      runReads(fd, Float64Array.from(ops), got);
      expect(Buffer.compare(Buffer.from(got.subarray(8 * ps)), Buffer.from(want.subarray(8 * ps)))).toBe(0);
      expect(got.subarray(0, 8 * ps).every((b) => b === 0x55)).toBe(true); // nothing before `at` is touched
      for (let i = 0; i < ops.length; i += 3) if (ops[i] === -1) zeros++;
    }
    expect(zeros).toBeGreaterThan(0); // some plan had a hole or the end of RAM in it
    reader.close();
  }, 900_000);
});

// VmcoreWindows: the mmap path a capture reads /proc/vmcore by. Here it maps the lab dump file (a regular file maps
// the same way) and must give the bytes pread gives: runs across a 4 MiB window's edge, a run longer than a window,
// and the file's unaligned end; a buffer too small is an error, not a write past its end.
describe("VmcoreWindows on the 6.1 sysrq dump", () => {
  test("copies what pread reads, across window edges and at the end of the file", async () => {
    const { vmcore } = await sysrqDump("6.1");
    const fd = openSync(vmcore, "r");
    try {
      const size = fstatSync(fd).size;
      const w = new VmcoreWindows(fd);
      const W = VmcoreWindows.SIZE;
      const cases: [number, number][] = [
        [W - 4096, 8192], // the last page of a window and the first of the next
        [3 * W + 100, 2 * W + 5000], // unaligned, longer than a window
        [Math.floor(size / 4096) * 4096 - 8192, 8192 + (size % 4096)], // the end, with the file's tail past the last whole page
        [0, 4096], // back to the first window
      ];
      for (const [off, len] of cases) {
        const want = new Uint8Array(len);
        readSync(fd, want, 0, len, off);
        const got = new Uint8Array(len + 16).fill(0x5a);
        const n = w.copy(off, len, got, 8);
        // what it could not map (the tail past the last whole page) is left for pread, and it says how much it did
        expect(n).toBe(Math.min(len, Math.max(0, Math.floor(size / 4096) * 4096 - off)));
        expect(Buffer.compare(Buffer.from(got.subarray(8, 8 + n)), Buffer.from(want.subarray(0, n)))).toBe(0);
        expect(got.subarray(0, 8).every((b) => b === 0x5a) && got.subarray(8 + n).every((b) => b === 0x5a)).toBe(true);
      }
      expect(w.mapped).toBeGreaterThanOrEqual(5);
      expect(() => w.copy(0, 8192, new Uint8Array(4096), 0)).toThrow(/passes the end/);
      w.close();
    } finally {
      closeSync(fd);
    }
  }, 900_000);

  test("runReads() through windows fills a batch exactly as without them", async () => {
    const { vmcore } = await sysrqDump("6.1");
    const dump = openDump(vmcore) as ElfDump;
    const plain = new PageReader(dump, { map: false });
    const mapped = new PageReader(dump, { map: true });
    expect(plain.mapped).toBe(false);
    expect(mapped.mapped).toBe(true);
    const ps = dump.pageSize;
    const loads = dump.segments.filter((s) => s.memsz > 0 && s.paddr < 2 ** 40);
    const last = Math.max(...loads.map((s) => (s.paddr + s.memsz) / ps));
    for (const pfn of [0, 255, 4096, 40_000, last - 100]) {
      const a = new Uint8Array(256 * ps);
      const b = new Uint8Array(256 * ps).fill(1);
      plain.read(pfn, 256, a);
      mapped.read(pfn, 256, b);
      expect(Buffer.compare(Buffer.from(a), Buffer.from(b))).toBe(0);
    }
    plain.close();
    mapped.close();
  }, 900_000);
});
