// PageReader.plan() + runReads(), what a compression worker runs on its own descriptor of /proc/vmcore, fill a
// buffer exactly as PageReader.read() does on a real ELF dump: frames inside a PT_LOAD, across the end of one and the
// start of the next, and past the last (zeros).
import { afterAll, describe, expect, test } from "bun:test";
import { closeSync, openSync } from "node:fs";
import { openDump } from "../../lib/dump/open.ts";
import { ElfDump } from "../../lib/dump/elf.ts";
import { PageReader, runReads } from "../../lib/dump/page_reader.ts";
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
