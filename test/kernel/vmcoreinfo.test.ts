// Vmcoreinfo parses the real notes of both kernel lines into values that agree with Debian's System.map and
// build id (KASLR slide applied) and with the dump's own kernel-text program header (phys_base, signed).
import { beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { $ } from "bun";
import { BadDataError, MissingDataError } from "../../lib/errors.ts";
import { openDump } from "../../lib/dump/open.ts";
import { ElfDump } from "../../lib/dump/elf.ts";
import { START_KERNEL_MAP } from "../../lib/arch/x86_64/pagetable.ts";
import { Vmcoreinfo } from "../../lib/kernel/vmcoreinfo.ts";
import { LINES, sysrqDump } from "../dump/_peers.ts";
import type { LabDump } from "../lab/dumps.ts";
import { debugKernel } from "./_images.ts";

const LAB = 900_000;

describe.each(LINES)("Vmcoreinfo of a %s crash", (line) => {
  let lab: LabDump;
  let dump: ElfDump;
  let vi: Vmcoreinfo;
  let systemMap: Map<string, bigint>;
  let vmlinux: string;
  beforeAll(async () => {
    lab = await sysrqDump(line);
    dump = openDump(lab.vmcore) as ElfDump;
    vi = new Vmcoreinfo(dump.vmcoreinfo!);
    const dbg = await debugKernel(line);
    vmlinux = dbg.vmlinux;
    systemMap = new Map(readFileSync(dbg.systemMap, "utf8").split("\n").map((l) => l.split(" ")).filter((f) => f.length === 3).map((f) => [f[2]!, BigInt(`0x${f[0]}`)]));
  }, LAB);

  test("OSRELEASE, PAGESIZE and BUILD-ID are the crashed kernel's", async () => {
    expect(vi.osrelease).toBe(lab.kernel.release);
    expect(vi.pageSize).toBe(4096);
    const notes = await $`readelf -n ${vmlinux}`.text();
    expect(vi.buildId).toBe(/Build ID: ([0-9a-f]+)/.exec(notes)![1]!);
  });

  test("SYMBOL() values are System.map addresses plus the hex KERNELOFFSET", () => {
    expect(vi.kernelOffset).not.toBe(0n); // the crashed kernel ran with KASLR
    for (const name of ["init_uts_ns", "prb", "init_top_pgt", "_stext"]) expect([name, vi.symbol(name)]).toEqual([name, systemMap.get(name)! + vi.kernelOffset]);
  });

  // physical KASLR puts the kernel below or above its link address, so phys_base is negative in some boots and
  // positive in others; the signed parse itself is checked on a synthetic note below
  test("NUMBER(phys_base) places the kernel text where its PT_LOAD says", () => {
    const text = dump.segments.find((s) => s.vaddr >= START_KERNEL_MAP)!;
    const physBase = vi.number("phys_base");
    expect(physBase).toBe(BigInt(text.paddr) - (text.vaddr - START_KERNEL_MAP));
  });
});

describe("new Vmcoreinfo()", () => {
  const text = [
    "OSRELEASE=6.1.0-56-cloud-amd64",
    "BUILD-ID=abc123",
    "PAGESIZE=4096",
    "SYMBOL(init_uts_ns)=ffffffff9b613500",
    "SIZE(printk_info)=88",
    "OFFSET(printk_info.caller_id)=20",
    "LENGTH(free_area)=11",
    "NUMBER(phys_base)=-438304768",
    "NUMBER(pgtable_l5_enabled)=1",
    "KERNELOFFSET=19000000",
    "CRASHTIME=1795424144",
  ].join("\n");

  test("reads each kind of key with its type", () => {
    const vi = new Vmcoreinfo(text);
    expect([vi.osrelease, vi.buildId, vi.pageSize, vi.kernelOffset, vi.crashTime]).toEqual(["6.1.0-56-cloud-amd64", "abc123", 4096, 0x19000000n, 1795424144]);
    expect([vi.symbol("init_uts_ns"), vi.size("printk_info"), vi.offset("printk_info.caller_id"), vi.length("free_area")]).toEqual([0xffffffff9b613500n, 88, 20, 11]);
    expect([vi.number("phys_base"), vi.number("pgtable_l5_enabled")]).toEqual([-438304768n, 1n]);
  });

  test("a missing key is a MissingDataError naming it; a malformed value a BadDataError", () => {
    const vi = new Vmcoreinfo(text);
    expect(() => vi.symbol("prb")).toThrow(MissingDataError);
    expect(() => vi.symbol("prb")).toThrow("VMCOREINFO has no SYMBOL(prb)");
    expect(() => new Vmcoreinfo(`${text}\nSYMBOL(x)=zz`)).toThrow(BadDataError);
    expect(() => new Vmcoreinfo(`${text}\nOFFSET(a.b)=1x`)).toThrow('VMCOREINFO OFFSET(a.b)="1x" is not a number');
    expect(() => new Vmcoreinfo("PAGESIZE=4096")).toThrow("VMCOREINFO has no OSRELEASE");
  });

  test("a note without CRASHTIME or KERNELOFFSET reads them as null and 0", () => {
    const vi = new Vmcoreinfo("OSRELEASE=2.6.32\nPAGESIZE=4096\n");
    expect([vi.crashTime, vi.kernelOffset, vi.buildId]).toEqual([null, 0n, null]);
  });
});
