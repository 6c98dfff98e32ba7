// Page filtering against makedumpfile 1.7.2 on real lab dumps: per-category counts and the very frames kept on
// 6.1, where its rules are right; on 6.12 the THP and slab pages it gets wrong, judged by the kernel's own numbers.
import { describe, expect, test } from "bun:test";
import { openDump } from "../../lib/dump/open.ts";
import { KdumpDump } from "../../lib/dump/kdump_compressed.ts";
import { countBits, testBit } from "../../lib/dump/bitmap.ts";
import { classify, DL, filterPages, wordLayoutProblem } from "../../lib/collect/filter.ts";
import { openKernel } from "../../lib/kernel/open.ts";
import { PageReader } from "../../lib/dump/page_reader.ts";
import { memMapSections, pageLayout } from "../../lib/kernel/memmap.ts";
import { makedumpfileOutput, sysrqDump } from "../dump/_peers.ts";
import { makedumpfileCounts } from "../dump/_makedumpfile.ts";
import { anonDump, thpDump } from "../lab/thp_dump.ts";
import type { LabDump } from "../lab/dumps.ts";

const SCENARIOS: Record<string, (line: string) => Promise<LabDump>> = { sysrq: sysrqDump, anon: anonDump, thp: thpDump };

/** Frames a kdump-compressed file keeps, as a set of page frame numbers. */
function keptFrames(path: string): Set<number> {
  const d = openDump(path) as KdumpDump;
  const s = new Set<number>();
  for (const r of d.ranges) for (let pfn = Number(r.start / 4096n); pfn < Number(r.end / 4096n); pfn++) s.add(pfn);
  d.close();
  return s;
}

describe("filterPages() on 6.1", () => {
  test.each(Object.keys(SCENARIOS))("excludes as many pages per category as makedumpfile -d 31 (%s dump)", async (scenario) => {
    const { vmcore } = await SCENARIOS[scenario]!("6.1");
    const theirs = await makedumpfileCounts(vmcore);
    const dump = openDump(vmcore);
    const f = filterPages(dump, 31, openKernel(dump));
    dump.close();
    expect(f.memMapSkipped).toBeNull();
    const { zero: _zero, ...ours } = f.excluded;
    expect(ours).toEqual({ cache: theirs.cache, cachePrivate: theirs.cachePrivate, user: theirs.user, free: theirs.free, hwpoison: theirs.hwpoison, offline: theirs.offline });
  }, 300_000);

  test.each(Object.keys(SCENARIOS))("keeps exactly the frames makedumpfile -d 31 keeps (%s dump)", async (scenario) => {
    const { vmcore } = await SCENARIOS[scenario]!("6.1");
    const theirs = keptFrames(await makedumpfileOutput(vmcore, "c"));
    const dump = openDump(vmcore);
    const f = filterPages(dump, 31, openKernel(dump));
    dump.close();
    const ours = new Set<number>();
    for (let pfn = 0; pfn < f.maxMapnr; pfn++) if (testBit(f.dumpable, pfn)) ours.add(pfn);
    expect(ours.size).toBe(theirs.size);
    expect([...ours].filter((p) => !theirs.has(p))).toEqual([]);
  }, 300_000);
});

describe("filterPages() with a PageReader (the collector's path: mem_map read a page at a time, where needed)", () => {
  const cases: [string, string][] = [["6.1", "sysrq"], ["6.1", "anon"], ["6.1", "thp"], ["6.12", "thp"]];
  test.each(cases)("keeps the same frames and counts as the walk that reads all of mem_map (%s %s dump)", async (line, scenario) => {
    const { vmcore } = await SCENARIOS[scenario]!(line);
    const dump = openDump(vmcore);
    const k = openKernel(dump);
    const reader = new PageReader(dump);
    try {
      const whole = filterPages(dump, 31, k);
      const lazy = filterPages(dump, 31, k, reader);
      expect(lazy.memMapSkipped).toBeNull();
      expect(lazy.excluded).toEqual(whole.excluded);
      expect(Buffer.compare(lazy.dumpable, whole.dumpable)).toBe(0);
      const memMapBytes = whole.maxMapnr * pageLayout(k.info).size;
      // mostly free memory: a free block's struct pages are skipped after its head, so most of mem_map is not read
      if (scenario === "sysrq") expect(reader.bytesRead).toBeLessThan(memMapBytes / 3);
      expect(reader.bytesRead).toBeLessThanOrEqual(memMapBytes + 4096 * 64);
    } finally {
      reader.close();
      dump.close();
    }
  }, 300_000);
});

describe("filterPages() on 6.12", () => {
  test("excludes anonymous transparent huge pages, which makedumpfile 1.7.2 keeps", async () => {
    const d = await thpDump("6.12");
    const theirs = await makedumpfileCounts(d.vmcore);
    const dump = openDump(d.vmcore);
    const f = filterPages(dump, 31, openKernel(dump));
    dump.close();
    // the guest's /proc/meminfo just before the crash says how much anonymous memory was in huge pages
    const thpPages = (Number(/AnonHugePages:\s+(\d+) kB/.exec(d.console)![1]) * 1024) / 4096;
    expect(thpPages).toBeGreaterThan(100_000);
    expect(theirs.user).toBeLessThan(thpPages / 10);
    expect(theirs.remaining / f.presentPages).toBeGreaterThan(0.7);
    expect(f.excluded.user).toBeGreaterThanOrEqual(thpPages);
    expect(countBits(f.dumpable, f.maxMapnr) / f.presentPages).toBeLessThan(0.2);
  }, 300_000);

  test("keeps the slab pages makedumpfile 1.7.2 mistakes for user data, and otherwise keeps what it keeps", async () => {
    const { vmcore } = await sysrqDump("6.12");
    const theirs = keptFrames(await makedumpfileOutput(vmcore, "c"));
    const dump = openDump(vmcore);
    const k = openKernel(dump);
    const f = filterPages(dump, 31, k);
    const L = pageLayout(k.info);
    const onlyOurs: number[] = [];
    for (let pfn = 0; pfn < f.maxMapnr; pfn++) if (testBit(f.dumpable, pfn) && !theirs.has(pfn)) onlyOurs.push(pfn);
    const [sec] = memMapSections(k, f.maxMapnr);
    const types = onlyOurs.map((pfn) => k.s32(sec!.vaddr + BigInt(pfn * L.size + L.mapcount)));
    dump.close();
    expect(onlyOurs.length).toBeGreaterThan(0);
    expect(types.every((t) => t === L.slabType)).toBe(true);
    expect([...theirs].filter((p) => !testBit(f.dumpable, p))).toEqual([]);
  }, 300_000);
});

describe("the walk's 32-bit reads of struct page", () => {
  test("a layout with a field off a 4-byte boundary is not walked: every page is kept, and the reason says which field", async () => {
    const { vmcore } = await sysrqDump("6.1");
    const dump = openDump(vmcore);
    const k = openKernel(dump);
    const L = pageLayout(k.info);
    expect(wordLayoutProblem(L)).toBeNull();
    expect(wordLayoutProblem({ ...L, mapcount: L.mapcount + 2 })).toBe(`struct page's _mapcount (${L.mapcount + 2}) is not a multiple of 4 bytes`);
    // the same through filterPages(): OFFSET(page._mapcount) moved in the dump's VMCOREINFO
    const info = k.info as unknown as { offsets: Map<string, number> };
    info.offsets.set("page._mapcount", L.mapcount + 2);
    const f = filterPages(dump, 31, k);
    dump.close();
    expect(f.memMapSkipped).toContain("_mapcount");
    expect(countBits(f.dumpable, f.maxMapnr)).toBe(f.presentPages);
  }, 300_000);
});

describe("classify()", () => {
  /** Two struct pages (a head and its first tail) laid out by the 6.12 kernel's VMCOREINFO. */
  async function layout() {
    const { vmcore } = await sysrqDump("6.12");
    const dump = openDump(vmcore);
    const L = pageLayout(openKernel(dump).info);
    dump.close();
    const v = new DataView(new ArrayBuffer(2 * L.size));
    return { L, v };
  }

  test("leaves a tail page to its head", async () => {
    const { L, v } = await layout();
    v.setUint32(L.compoundHead, 0x1001, true); // compound_head with bit 0: a tail
    v.setUint32(L.mapping, 1, true); // anonymous, yet kept here
    expect(classify(v, 0, L.size, 0x200, L, 31)).toBeNull();
  });

  test("drops a buddy block by its order, and keeps one whose order is out of range", async () => {
    const { L, v } = await layout();
    v.setInt32(L.mapcount, L.buddyType!, true);
    v.setUint32(L.private, 3, true);
    expect(classify(v, 0, L.size, 0x200, L, DL.FREE)).toEqual({ reason: "free", pages: 8 });
    expect(classify(v, 0, L.size, 0x200, L, 0)).toBeNull();
    v.setUint32(L.private, L.maxOrder, true);
    expect(classify(v, 0, L.size, 0x200, L, DL.FREE)).toBeNull();
  });

  test("drops a whole anonymous folio from its head's order, and a hugetlb folio by its page type", async () => {
    const { L, v } = await layout();
    v.setUint32(L.flags, L.headMaskLo, true);
    v.setUint32(L.size + L.flags, 9, true); // folio order in page[1].flags' low byte (6.6+)
    v.setUint32(L.mapping, 0xabc1, true);
    expect(classify(v, 0, L.size, 0x200, L, DL.USER)).toEqual({ reason: "user", pages: 512 });
    expect(classify(v, 0, L.size, 0x201, L, DL.USER)).toEqual({ reason: "user", pages: 1 }); // misaligned: order ignored
    v.setUint32(L.mapping, 0, true);
    v.setInt32(L.mapcount, (L.hugetlb as { value: number }).value, true);
    expect(classify(v, 0, L.size, 0x200, L, DL.USER)).toEqual({ reason: "user", pages: 512 });
  });

  test("drops offline pages at any level, but not slab pages", async () => {
    const { L, v } = await layout();
    v.setInt32(L.mapcount, L.offlineType!, true);
    expect(classify(v, 0, -1, 7, L, 0)).toEqual({ reason: "offline", pages: 1 });
    v.setInt32(L.mapcount, L.slabType!, true);
    v.setUint32(L.mapping, 1, true); // slab fields overlap mapping: an odd value is not an anonymous page
    expect(classify(v, 0, -1, 7, L, 31)).toBeNull();
  });
});
