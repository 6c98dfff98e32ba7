// Our ELF output (--format elf) on a lab dump: every kept page as in the original, zero pages read back as zeros
// with no file space, excluded pages absent; makedumpfile reads its log as from the original.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $ } from "bun";
import { openDump } from "../../lib/dump/open.ts";
import { openKernel } from "../../lib/kernel/open.ts";
import { ElfDump } from "../../lib/dump/elf.ts";
import { testBit } from "../../lib/dump/bitmap.ts";
import { filterPages } from "../../lib/collect/filter.ts";
import { FaultError } from "../../lib/errors.ts";
import { sysrqDump } from "./_peers.ts";
import { collectTemp, dumpFolder } from "./_makedumpfile.ts";

describe("collect() ELF output", () => {
  test("holds each kept page as the original does, zero pages as zeros, and no excluded page", async () => {
    const { vmcore } = await sysrqDump("6.1");
    const r = await collectTemp(vmcore, { format: "elf" });
    const orig = openDump(vmcore);
    const ours = openDump(join(dumpFolder(r.dir), "vmcore")) as ElfDump;
    try {
      const f = filterPages(orig, 31, openKernel(orig));
      let kept = 0;
      let excluded = 0;
      for (let pfn = 0; pfn < f.maxMapnr; pfn++) {
        if (!f.present.some(([start, end]) => pfn >= start && pfn < end)) continue;
        const a = BigInt(pfn) * 4096n;
        if (testBit(f.dumpable, pfn)) {
          kept++;
          expect(Buffer.from(ours.readPhys(a, 4096)).equals(Buffer.from(orig.readPhys(a, 4096)))).toBe(true);
        } else if (pfn % 97 === 0) {
          excluded++;
          expect(() => ours.readPhys(a, 8)).toThrow(FaultError);
        }
      }
      expect(kept).toBe(r.pagesWritten + r.excluded.zero);
      expect(excluded).toBeGreaterThan(100);
      // zero pages cost no file bytes: the file is the headers plus the non-zero kept pages
      expect(r.bytes).toBeLessThan(r.pagesWritten * 4096 + 2 * 1048576);
      expect(ours.segments.some((s) => s.filesz < s.memsz)).toBe(true);
      expect(ours.notes.map((n) => n.name)).toEqual(orig.notes.map((n) => n.name));
    } finally {
      ours.close();
      orig.close();
      r.cleanup();
    }
  }, 300_000);

  test("is read by makedumpfile --dump-dmesg as the original is", async () => {
    const { vmcore } = await sysrqDump("6.1");
    const r = await collectTemp(vmcore, { format: "elf" });
    const tmp = mkdtempSync(join(tmpdir(), "elfw-"));
    try {
      for (const [f, out] of [[join(dumpFolder(r.dir), "vmcore"), "ours"], [vmcore, "orig"]] as const)
        expect((await $`makedumpfile --dump-dmesg ${f} ${join(tmp, out)}`.quiet().nothrow()).exitCode).toBe(0);
      expect(readFileSync(join(tmp, "ours")).equals(readFileSync(join(tmp, "orig")))).toBe(true);
    } finally {
      r.cleanup();
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 300_000);
});
