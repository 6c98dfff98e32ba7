// ORC tables of Debian's real 6.1 (4.14 layout) and 6.12 (6.4 layout) kernels, read from the stripped vmlinux:
// the entry types must make sense, and at each function entry in the real System.map the frame must be a plain call
// (previous SP = SP + 8), whichever way the layout numbers its types.
import { describe, expect, test } from "bun:test";
import { decodeOrcEntry, OrcFinder, orcLayoutFor, OrcReg, OrcType } from "../../../lib/arch/x86_64/orc.ts";
import { ElfImage, readSystemMap } from "../../kernel/_elfimage.ts";
import { debugKernel, strippedVmlinux } from "../../kernel/_images.ts";

describe.each([
  ["6.1", "4.14"],
  ["6.12", "6.4"],
])("ORC of Debian %s", (line, layout) => {
  test(`orcLayoutFor() picks the ${layout} layout`, async () => {
    expect(orcLayoutFor((await strippedVmlinux(line)).release)).toBe(layout as "4.14" | "6.4");
  }, 60_000);

  test("decodeOrcEntry() gives mostly CALL frames, some REGS, UNDEFINED and END_OF_STACK", async () => {
    const { path, release } = await strippedVmlinux(line);
    const img = new ElfImage(path);
    const unwind = img.section(".orc_unwind");
    const counts = [0, 0, 0, 0, 0, 0, 0, 0];
    for (let at = 0; at + 6 <= unwind.length; at += 6) counts[decodeOrcEntry(unwind, at, orcLayoutFor(release)).type]!++;
    const total = unwind.length / 6;
    expect(img.section(".orc_unwind_ip").length / 4).toBe(total);
    expect(counts[OrcType.CALL]! / total).toBeGreaterThan(0.8);
    expect(counts[OrcType.REGS]).toBeGreaterThan(100);
    expect(counts[OrcType.REGS_PARTIAL]).toBeGreaterThan(10);
    expect(counts[OrcType.UNDEFINED]).toBeGreaterThan(100);
    expect(counts[OrcType.END_OF_STACK]).toBeGreaterThan(0);
    expect(counts[5]! + counts[6]! + counts[7]!).toBe(0);
  }, 60_000);

  test("OrcFinder.find() at function entries of System.map gives CALL with SP + 8", async () => {
    const { path, release } = await strippedVmlinux(line);
    const img = new ElfImage(path);
    const ip = img.sections.find((s) => s.name === ".orc_unwind_ip")!;
    const un = img.sections.find((s) => s.name === ".orc_unwind")!;
    const finder = new OrcFinder(img, orcLayoutFor(release), { ip: ip.addr, unwind: un.addr, count: ip.size / 4 });
    const map = readSystemMap((await debugKernel(line)).systemMap);
    const stext = map.addr.get("_stext")!;
    const etext = map.addr.get("_etext")!;
    const funcs = map.lines.filter((l) => (l.type === "T" || l.type === "t") && l.addr >= stext && l.addr < etext);
    let plain = 0;
    let tried = 0;
    for (let i = 0; i < funcs.length; i += 7) {
      const e = finder.find(funcs[i]!.addr);
      tried++;
      if (e && e.type === OrcType.CALL && e.spReg === OrcReg.SP && e.spOffset === 8 && !e.signal) plain++;
    }
    expect(tried).toBeGreaterThan(5000);
    expect(plain / tried).toBeGreaterThan(0.9);
    // An entry point of the syscall path is an interrupted frame with pt_regs on the stack.
    const entry = finder.find(map.addr.get("entry_SYSCALL_64_after_hwframe")!);
    expect(entry?.type === OrcType.REGS || entry?.type === OrcType.END_OF_STACK || entry?.type === OrcType.UNDEFINED).toBe(true);
    expect(finder.find(0n)).toBeUndefined();
    expect(finder.find(etext + 0x10000000n)).toBeUndefined();
  }, 120_000);
});

test("orcLayoutFor() knows 6.3, and 7.1 with its renumbered registers", () => {
  expect(orcLayoutFor("6.3.0")).toBe("6.3");
  expect(orcLayoutFor("4.14.0")).toBe("4.14");
  expect(orcLayoutFor("7.0.1")).toBe("6.4");
  expect(orcLayoutFor("7.1.0")).toBe("7.1");
  expect(orcLayoutFor("7.2.13+deb14-cloud-amd64")).toBe("7.1");
}, 60_000);

test("decodeOrcEntry() reads 6.3's signal bit and end bit", () => {
  // sp_reg SP (5), bp_reg UNDEFINED, type REGS (1), signal (bit 10)
  const b = new Uint8Array([8, 0, 0, 0, 0x05, 0x05]);
  expect(decodeOrcEntry(b, 0, "6.3")).toEqual({ spOffset: 8, bpOffset: 0, spReg: 5, bpReg: 0, type: OrcType.REGS, signal: true });
  // sp_reg UNDEFINED and the end bit (11) set: end of stack
  expect(decodeOrcEntry(new Uint8Array([0, 0, 0, 0, 0x00, 0x08]), 0, "6.3").type).toBe(OrcType.END_OF_STACK);
  expect(decodeOrcEntry(new Uint8Array([0, 0, 0, 0, 0x00, 0x04]), 0, "4.14").type).toBe(OrcType.END_OF_STACK);
}, 60_000);
