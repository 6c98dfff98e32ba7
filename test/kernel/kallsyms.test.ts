// kallsyms decoded from Debian's real stripped vmlinux (tables located with the -dbg package's System.map) and
// compared with that System.map; corner cases (2-byte lengths, encodings, truncation) on small hand-made tables.
import { describe, expect, test } from "bun:test";
import { Kallsyms, readKallsymsTables, type KallsymsTables } from "../../lib/kernel/kallsyms.ts";
import { BadDataError } from "../../lib/errors.ts";
import { ElfImage, readSystemMap } from "./_elfimage.ts";
import { debugKernel, strippedVmlinux } from "./_images.ts";

describe.each(["6.1", "6.12"])("kallsyms of Debian %s", (line) => {
  const load = async () => {
    const img = new ElfImage((await strippedVmlinux(line)).path);
    const map = readSystemMap((await debugKernel(line)).systemMap);
    const at = (n: string) => map.addr.get(`kallsyms_${n}`)!;
    const tables = readKallsymsTables(img, {
      num_syms: at("num_syms"),
      names: at("names"),
      token_table: at("token_table"),
      token_index: at("token_index"),
      offsets: at("offsets"),
      relative_base: at("relative_base"),
    });
    return { ks: new Kallsyms(tables, map.addr.get("_stext")!), map };
  };

  test("Kallsyms() decodes every symbol as System.map lists it (name, address, type)", async () => {
    const { ks, map } = await load();
    expect(ks.encoding).toBe("absolute-percpu");
    // Per-CPU symbols are absolute ("A") in kallsyms and data ("D", "d") in System.map.
    const key = (addr: bigint, type: string, name: string) => `${addr.toString(16)} ${addr < 1n << 32n ? "-" : type} ${name}`;
    const inMap = new Set(map.lines.map((l) => key(l.addr, l.type, l.name)));
    let missing = 0;
    for (let i = 0; i < ks.count; i++) if (!inMap.has(key(ks.address(i), ks.type(i), ks.name(i)))) missing++;
    expect(ks.count).toBeGreaterThan(80_000);
    expect(missing).toBe(0);
    // kallsyms leaves out only a few kinds of System.map lines (absolute and linker symbols); most are there.
    expect(ks.count / map.lines.length).toBeGreaterThan(0.95);
  }, 60_000);

  test("Kallsyms.lookup() and symbolize() agree with System.map", async () => {
    const { ks, map } = await load();
    for (const name of ["init_task", "panic_cpu", "__per_cpu_offset", "_etext", "sysrq_handle_crash", "__start_orc_unwind_ip"])
      expect([name, ks.lookup(name)]).toEqual([name, map.addr.get(name)]);
    expect(ks.lookup("no_such_symbol_here")).toBeUndefined();
    const crash = map.addr.get("sysrq_handle_crash")!;
    const hit = ks.symbolize(crash + 7n)!;
    expect([hit.name, hit.offset, hit.type]).toEqual(["sysrq_handle_crash", 7, "t"]);
    const after = map.lines.filter((l) => l.addr > crash).sort((a, b) => (a.addr < b.addr ? -1 : 1))[0]!;
    expect(hit.size).toBe(Number(after.addr - crash));
    expect(ks.symbolize(0xffffffff80000000n)).toBeUndefined();
  }, 60_000);
});

/** Tables for symbols (type + name each) with every byte its own token, at addresses base + offsets. */
function tables(symbols: string[], offsets: number[], relativeBase: bigint): KallsymsTables {
  const tokenTable = new Uint8Array(512);
  const tokenIndex = new Uint8Array(512);
  for (let b = 0; b < 256; b++) {
    tokenTable[b * 2] = b;
    new DataView(tokenIndex.buffer).setUint16(b * 2, b * 2, true);
  }
  const names: number[] = [];
  for (const s of symbols) {
    if (s.length >= 0x80) names.push((s.length & 0x7f) | 0x80, s.length >> 7);
    else names.push(s.length);
    names.push(...new TextEncoder().encode(s));
  }
  const off = new Uint8Array(offsets.length * 4);
  offsets.forEach((o, i) => new DataView(off.buffer).setInt32(i * 4, o, true));
  return { count: symbols.length, names: Uint8Array.from(names), tokenTable, tokenIndex, offsets: off, relativeBase, offsetsAddr: 0xffffffff82000000n };
}

describe("kallsyms corner cases", () => {
  test("Kallsyms() reads a 2-byte name length (names of 128+ characters, 6.1+)", () => {
    const base = 0xffffffff81000000n;
    const ks = new Kallsyms(tables(["T_stext", "T" + "x".repeat(300), "tafter"], [0, 16, 32], base), base);
    expect([ks.name(1), ks.name(2), ks.lookup("after")]).toEqual(["x".repeat(300), "after", base + 32n]);
    expect(ks.symbolize(base + 20n)).toEqual({ name: "x".repeat(300), offset: 4, size: 16, address: base + 16n, type: "T" });
  }, 60_000);

  test("Kallsyms() picks the encoding that reproduces _stext", () => {
    const base = 0xffffffff81000000n;
    // relative: base + u32 offset
    expect(new Kallsyms(tables(["T_stext", "Tf"], [0x1000, 0x2000], base), base + 0x1000n).encoding).toBe("relative");
    // absolute-percpu: a per-CPU symbol keeps its small absolute value, text is base - 1 - offset
    const ks = new Kallsyms(tables(["Dpcpu_hot", "T_stext"], [0x35000, -0x1001], base), base + 0x1000n);
    expect(ks.encoding).toBe("absolute-percpu");
    expect(ks.lookup("pcpu_hot")).toBe(0x35000n);
    // place-relative: the offset counts from its own slot
    const pr = tables(["T_stext"], [0x40], 0n);
    expect(new Kallsyms(pr, pr.offsetsAddr + 0x40n).encoding).toBe("place-relative");
  }, 60_000);

  test("Kallsyms() refuses tables that do not give _stext or do not decode", () => {
    expect(() => new Kallsyms(tables(["T_stext"], [0], 0xffffffff81000000n), 0xffffffff83000000n)).toThrow(/no address encoding gives _stext/);
    const t = tables(["T_stext", "Tfoo"], [0, 1], 0n);
    expect(() => new Kallsyms({ ...t, count: 3 }, 0n)).toThrow(BadDataError);
  }, 60_000);
});
