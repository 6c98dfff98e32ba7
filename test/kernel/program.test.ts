// What KernelProgram reads out of real lab dumps of both kernel lines, with no debuginfo: kallsyms equal to the
// build's System.map moved by KASLR, BTF byte-identical to the vmlinux's .BTF section, ORC tables that find the
// same entries as the vmlinux's sections; and a dump without BTF fails that part with a clear message.
import { beforeAll, describe, expect, test } from "bun:test";
import { openDump } from "../../lib/dump/open.ts";
import { errorLine, MissingDataError } from "../../lib/errors.ts";
import { openKernel } from "../../lib/kernel/open.ts";
import { OrcFinder } from "../../lib/arch/x86_64/orc.ts";
import { KernelProgram } from "../../lib/kernel/program.ts";
import { LINES, sysrqDump } from "../dump/_peers.ts";
import { ElfImage, readSystemMap } from "./_elfimage.ts";
import { debugKernel, strippedVmlinux } from "./_images.ts";

const LAB = 900_000; // building a lab dump boots QEMU

describe.each(LINES)("KernelProgram on a %s lab dump", (line) => {
  let prog: KernelProgram;
  let map: ReturnType<typeof readSystemMap>;
  let img: ElfImage;
  beforeAll(async () => {
    prog = new KernelProgram(openKernel(openDump((await sysrqDump(line)).vmcore)));
    map = readSystemMap((await debugKernel(line)).systemMap);
    img = new ElfImage((await strippedVmlinux(line)).path);
  }, LAB);

  test("symbols equal the System.map of the build moved by KERNELOFFSET", () => {
    const ks = prog.symbols;
    const slide = prog.view.info.kernelOffset;
    expect(slide).not.toBe(0n); // the lab boots with KASLR
    const moved = new Set(map.lines.map((l) => `${l.name} ${(l.addr + slide).toString(16)}`));
    let checked = 0;
    for (let i = 0; i < ks.count; i += 13) {
      const a = ks.address(i);
      if (a < 1n << 32n) continue; // per-CPU symbols are not moved
      expect([ks.name(i), moved.has(`${ks.name(i)} ${a.toString(16)}`)]).toEqual([ks.name(i), true]);
      checked++;
    }
    expect(checked).toBeGreaterThan(5000);
  }, 60_000);

  test("btf is the vmlinux's .BTF section byte for byte", () => {
    expect(Buffer.from(prog.btf.bytes).equals(Buffer.from(img.section(".BTF")))).toBe(true);
  }, 60_000);

  test("orc finds the same entries in memory (with orc_lookup) as in the vmlinux sections", () => {
    const slide = prog.view.info.kernelOffset;
    const ip = img.sections.find((s) => s.name === ".orc_unwind_ip")!;
    const un = img.sections.find((s) => s.name === ".orc_unwind")!;
    const file = new OrcFinder(img, prog.orc.layout, { ip: ip.addr, unwind: un.addr, count: ip.size / 4 });
    const funcs = map.lines.filter((l) => l.type === "T" || l.type === "t");
    let same = 0;
    for (let i = 0; i < funcs.length; i += 61) {
      const a = funcs[i]!.addr + 9n;
      expect(prog.orc.find(a + slide)).toEqual(file.find(a));
      same++;
    }
    expect(same).toBeGreaterThan(500);
  }, 60_000);

  test("btf fails with a clear message when the kernel has no BTF", () => {
    const p = new KernelProgram(prog.view);
    const ks = p.symbols;
    const real = ks.lookup.bind(ks);
    ks.lookup = (name: string) => (name === "__start_BTF" ? undefined : real(name));
    expect(() => p.btf).toThrow(MissingDataError);
    expect(errorLine(catchError(() => p.btf))).toMatch(/the kernel has no BTF.*CONFIG_DEBUG_INFO_BTF/);
  }, 60_000);
});

function catchError(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error("expected an error");
}

// Dump fuzz seed 2026, case 30 (a bitmap mutation of a 5.10 kdump-lzo dump): the BTF no longer parsed, and every CPU
// of ps's idle-task loop read and decompressed its megabytes again: ps ran past the 20 s limit.
test("KernelProgram reads a BTF that does not parse once, and throws its error again", async () => {
  const dump = openDump((await sysrqDump("6.1")).vmcore);
  try {
    const clean = new KernelProgram(openKernel(dump));
    const start = clean.view.translate(clean.symbols.require("__start_BTF"));
    const readPhys = dump.readPhys.bind(dump);
    let reads = 0;
    // every read of the BTF's first byte sees it flipped (the magic 0xeb9f no longer matches)
    dump.readPhys = (a, n, zeroFill) => {
      const b = readPhys(a, n, zeroFill);
      if (a <= start && start < a + BigInt(n)) {
        reads++;
        b[Number(start - a)]! ^= 0xff;
      }
      return b;
    };
    const prog = new KernelProgram(openKernel(dump));
    expect(() => prog.btf).toThrow("BTF: bad magic");
    for (let cpu = 0; cpu < 100; cpu++) expect(() => prog.off("rq", "idle")).toThrow("BTF: bad magic");
    expect(reads).toBe(1);
  } finally {
    dump.close();
  }
}, LAB);
