// x86_64 translation agrees with drgn (reading the same dump with DWARF) on real crashes with 5-level and 4-level
// page tables: kernel image, direct map (slab), vmalloc'd stacks, vmemmap and module memory. Synthetic page tables
// cover large pages and the error paths.
import { beforeAll, describe, expect, test } from "bun:test";
import { FaultError } from "../../../lib/errors.ts";
import { openDump } from "../../../lib/dump/open.ts";
import { openKernel } from "../../../lib/kernel/open.ts";
import { memMapSections } from "../../../lib/kernel/memmap.ts";
import type { KernelView } from "../../../lib/kernel/view.ts";
import { fourLevelDump, sysrqDump } from "../../dump/_peers.ts";
import type { LabDump } from "../../lab/dumps.ts";
import { drgnJson } from "../../kernel/_drgn.ts";
import { FakeKernel } from "../../kernel/_fakekernel.ts";
import { debugKernel } from "../../kernel/_images.ts";

const LAB = 900_000;

// Addresses of each kind and the 64 bytes drgn reads there, as [kind, address, hex].
const DRGN_SAMPLES = `
samples = [("text", prog["init_task"].address_)]
for i, t in enumerate(for_each_task(prog)):
    if i >= 8: break
    samples.append(("direct map", t.value_()))
    samples.append(("vmalloc stack", t.stack.value_()))
samples.append(("vmemmap", pfn_to_page(prog, 0x1234).value_()))
samples.append(("vmemmap", pfn_to_page(prog, 0x30000).value_()))
for m in list_for_each_entry("struct module", prog["modules"].address_of_(), "list"):
    samples.append(("module", m.value_()))
print(json.dumps([[k, hex(a), prog.read(a, 64).hex()] for k, a in samples]))
`;

const cases: [string, () => Promise<LabDump>, 4 | 5][] = [
  ["6.1 (5-level)", () => sysrqDump("6.1"), 5],
  ["6.12 (5-level)", () => sysrqDump("6.12"), 5],
  ["6.1 (4-level)", () => fourLevelDump("6.1"), 4],
];

describe.each(cases)("translate() on %s", (_name, make, levels) => {
  let dump: LabDump;
  let k: KernelView;
  beforeAll(async () => {
    dump = await make();
    k = openKernel(openDump(dump.vmcore));
  }, LAB);

  test(`the dump uses ${levels}-level paging`, () => {
    expect(k.info.numbers.get("pgtable_l5_enabled")).toBe(levels === 5 ? 1n : 0n);
  });

  test("reads the same bytes as drgn at kernel, direct-map, vmalloc, vmemmap and module addresses", async () => {
    const line = dump.kernel.release.startsWith("6.1.") ? "6.1" : "6.12";
    const { vmlinux } = await debugKernel(line);
    const samples = await drgnJson<[string, string, string][]>(vmlinux, DRGN_SAMPLES, dump.vmcore);
    const kinds = new Set(samples.map((s) => s[0]));
    for (const kind of ["text", "direct map", "vmalloc stack", "vmemmap", "module"]) expect(kinds).toContain(kind);
    for (const [kind, addr, hex] of samples) expect([kind, addr, Buffer.from(k.read(BigInt(addr), 64)).toString("hex")]).toEqual([kind, addr, hex]);
  }, LAB);

  test("mappedRun(): over mem_map, each page it covers translates to the run's first address plus its offset", () => {
    // the mem_map walk translates a chunk once and takes the pages the run covers from it (lib/collect/filter.ts)
    const vmemmap = memMapSections(k, 0x40000)[0]!.vaddr; // mem_map of the first GiB
    let large = 0;
    for (const off of [0n, 0x1000n, 0x80000n, 0x1ff000n, 0x3f0000n]) {
      const vaddr = vmemmap + off;
      const run = k.mappedRun!(vaddr)!;
      expect(run.bytes % 4096).toBe(0);
      if (run.bytes > 4096) large++;
      for (let at = 0; at < run.bytes; at += 4096 * 61) expect([at, k.translate(vaddr + BigInt(at))]).toEqual([at, run.paddr + BigInt(at)]);
      expect(k.translate(vaddr + BigInt(run.bytes - 4096))).toBe(run.paddr + BigInt(run.bytes - 4096));
    }
    expect(large).toBeGreaterThan(0); // vmemmap is mapped by 2 MiB pages here
  });

  test("throws FaultError for user, non-canonical and unmapped vmalloc addresses", () => {
    const nonCanonical = levels === 5 ? 0x0100000000000000n : 0x0000800000000000n;
    for (const a of [0x400000n, nonCanonical, 0xffffc9ffff000000n]) expect(() => k.translate(a)).toThrow(FaultError);
  });
});

describe("PageTable on synthetic tables", () => {
  test.each([4, 5] as const)("%i-level: 4 KiB, 2 MiB and 1 GiB mappings translate to what was mapped", (levels) => {
    const f = new FakeKernel(levels);
    f.map(0xffffc90000001000n, 0x345000, 1);
    f.map(0xffffc90000200000n, 0x400000, 2);
    f.map(0xffffea0040000000n, 0x40000000, 3);
    const k = openKernel(f.dump());
    expect(k.translate(0xffffc90000001abcn)).toBe(0x345abcn);
    expect(k.translate(0xffffc900002fedcbn)).toBe(0x4fedcbn);
    expect(k.translate(0xffffea007fffffffn)).toBe(0x7fffffffn);
    expect(k.translate(f.va(0x123456))).toBe(0x123456n); // the direct map (one 1 GiB page)
    expect(k.translate(f.imageVaddr + 0x1234n)).toBe(BigInt(f.imagePhys + 0x1234)); // image via phys_base
    expect(f.physBase).toBeLessThan(0n);
  });

  test("a large page is remembered: addresses in it, then in a 4 KiB page, then in it again translate right", () => {
    const f = new FakeKernel(4);
    f.map(0xffffc90000001000n, 0x345000, 1);
    f.map(0xffffc90000200000n, 0x400000, 2);
    f.map(0xffffc90000400000n, 0x800000, 2);
    const k = openKernel(f.dump());
    for (let off = 0n; off < 0x200000n; off += 0x1000n + 8n) expect(k.translate(0xffffc90000200000n + off)).toBe(0x400000n + off);
    expect(k.translate(0xffffc90000001008n)).toBe(0x345008n);
    expect(k.translate(0xffffc900003ffff8n)).toBe(0x5ffff8n);
    expect(k.translate(0xffffc90000400010n)).toBe(0x800010n); // the next 2 MiB page maps elsewhere
    expect(k.translate(0xffffc90000200010n)).toBe(0x400010n);
    expect(() => k.translate(0xffffc90000600000n)).toThrow("no PMD entry"); // past the large pages: not mapped
  });

  test("mappedRun() runs to the end of a large page, of a 4 KiB page, and not past the kernel image's own page", () => {
    const f = new FakeKernel(4);
    f.map(0xffffc90000001000n, 0x345000, 1);
    f.map(0xffffc90000200000n, 0x400000, 2);
    const k = openKernel(f.dump());
    expect(k.mappedRun!(0xffffc90000212000n)).toEqual({ paddr: 0x412000n, bytes: 0x1ee000 });
    expect(k.mappedRun!(0xffffc900003ff000n)).toEqual({ paddr: 0x5ff000n, bytes: 0x1000 });
    expect(k.mappedRun!(0xffffc90000001800n)).toEqual({ paddr: 0x345800n, bytes: 0x800 });
    // a 4 KiB page met after the large one: its own page only, though the large page is still remembered
    expect(k.mappedRun!(0xffffc90000001000n)).toEqual({ paddr: 0x345000n, bytes: 0x1000 });
    expect(k.mappedRun!(f.imageVaddr + 0x1000n)).toEqual({ paddr: BigInt(f.imagePhys + 0x1000), bytes: 0x1000 });
    expect(() => k.mappedRun!(0xffffc90000600000n)).toThrow("no PMD entry");
  });

  test("the PAT bit of a 2 MiB entry is not part of the address", () => {
    const f = new FakeKernel(4);
    f.map(0xffffc90000200000n, 0x600000, 2);
    const k = openKernel(f.dump());
    const before = k.translate(0xffffc90000212345n);
    const g = new FakeKernel(4);
    g.map(0xffffc90000200000n, 0x600000 | 0x1000, 2); // bit 12 is PAT in a large-page entry
    expect(openKernel(g.dump()).translate(0xffffc90000212345n)).toBe(before);
    expect(before).toBe(0x612345n);
  });

  test("an unmapped address names the missing level; a table outside the dump is a FaultError", () => {
    const f = new FakeKernel(5);
    f.map(0xffffc90000001000n, 0x345000, 1);
    const k = openKernel(f.dump());
    expect(() => k.translate(0xffffc90000002000n)).toThrow("no PTE entry");
    expect(() => k.translate(0xffffc90000400000n)).toThrow("no PMD entry");
    expect(() => k.translate(0xffffc90040000000n)).toThrow("no PUD entry");
    const g = new FakeKernel(4);
    g.map(0xffffc90000001000n, 0x345000, 1);
    // point the PMD at a page table far beyond the dump's memory
    const v = new DataView(g.phys.buffer);
    const pgdSlot = g.pgd + Number((0xffffc90000001000n >> 39n) & 0x1ffn) * 8;
    const pud = Number(v.getBigUint64(pgdSlot, true) & 0xfffff000n);
    const pmd = Number(v.getBigUint64(pud, true) & 0xfffff000n);
    v.setBigUint64(pmd, 0x7000000000n | 3n, true);
    expect(() => openKernel(g.dump()).translate(0xffffc90000001000n)).toThrow("page table of this address is not in the dump");
  });
});
