// A small fixed-seed slice of the dump fuzzer (`npm run fuzz` runs the big one): mutated bytes of a real lab dump
// in four formats, each case `kdump analyze` in a subprocess. Every case must end ok or in one `kdump: …` line
// naming the file: no stack trace, hang, signal or run over 500 MB.
import { beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { labDir } from "../../lib/lab/labdir.ts";
import { sysrqDump } from "../dump/_peers.ts";
import { codeVersion, discoverDumps, prepareBases, type Base } from "./_bases.ts";
import { asBase, classifyError, planCase } from "./_case.ts";
import { coverage, failures, formatTable, fuzz, pinBases, type FuzzReport } from "./fuzz.ts";

const LAB = 900_000; // building a lab dump boots QEMU; the fuzz bases take ~1 min more the first time

describe("dump fuzzer, seed 1", () => {
  let report: FuzzReport;
  beforeAll(async () => {
    const dump = basename(dirname((await sysrqDump("6.1")).vmcore));
    const work = process.env.KDUMP_FUZZ_DIR ?? join(labDir(), "fuzz");
    // the bases alone first (cached), so the cases' minute is spent on cases
    await fuzz({ cases: 0, seed: 1, jobs: 2, work, lab: labDir(), dumps: [dump], formats: ["elf", "kdump-zstd", "mdf-lzo", "flat-zstd"] });
    report = await fuzz({ cases: 16, seed: 1, jobs: 2, work, lab: labDir(), dumps: [dump], formats: ["elf", "kdump-zstd", "mdf-lzo", "flat-zstd"] });
  }, LAB);

  test("16 cases: each ok or one `kdump: …` line naming the file; some change the outcome", () => {
    const bad = failures(report).map((f) => `case ${f.plan.index} ${f.outcome}: ${f.plan.base.name} ${f.plan.command} ${JSON.stringify(f.plan.patches)}: ${f.stderr}`);
    expect(bad).toEqual([]);
    expect(report.results.length).toBe(16);
    expect(report.table.all!.changed).toBeGreaterThan(0);
    expect(formatTable(report)).toContain("structure  cases  outcome-changing  ok  clean error");
  });

  test("a case is measured by its own memory, not by the fuzzer's: run from a process that peaked over 500 MB, no case is over", async () => {
    // Linux carries the spawning process's high-water mark into a child's ru_maxrss: a fresh CI run, whose fuzzer
    // had just built its bases, once counted all 16 cases over 500 MB
    const ballast = new Uint8Array(600 * 2 ** 20).fill(1);
    const dump = basename(dirname((await sysrqDump("6.1")).vmcore));
    const work = process.env.KDUMP_FUZZ_DIR ?? join(labDir(), "fuzz");
    const again = await fuzz({ cases: 4, seed: 1, jobs: 2, work, lab: labDir(), dumps: [dump], formats: ["elf", "kdump-zstd", "mdf-lzo", "flat-zstd"] });
    expect(ballast[ballast.length - 1]).toBe(1);
    expect(again.results.map((r) => r.outcome).filter((o) => o === "memory > 500 MB")).toEqual([]);
    expect(again.results.every((r) => r.maxRssMB > 10 && r.maxRssMB < 500)).toBe(true);
  }, LAB);
});

describe("classifyError()", () => {
  test("tells a clean line from a stack trace and from a line without the file", () => {
    expect(classifyError("kdump: /d/v: nr_cpu_ids at 0x… is 0: try another dump\n", "/d/v")).toBe("clean error");
    expect(classifyError("kdump: Out of bounds access\n", "/d/v")).toBe("bad message");
    expect(classifyError("1 | const x\n    ^\nRangeError: Out of bounds access\n      at parseNotes (notes.ts:3:1)\n", "/d/v")).toBe("stack trace");
  });
});

/** A base with no file behind it: planCase() only reads bytes of it through the callback. */
function fakeBase(name: string, release: string, format: string): Base {
  const none = { headers: [], notes: [], bitmaps: [], page_desc: [], kallsyms: [], BTF: [], ORC: [] };
  return {
    name: `${name}/${format}`,
    dump: name,
    release,
    machine: "x86_64",
    format,
    file: "/nonexistent",
    targets: { ...none, headers: [[0, 64]], ORC: [[100_000, 200_000]], kallsyms: [[300_000, 400_000]] },
    baseline: {},
    hot: { ORC: { bt: [[150_000, 150_006], [160_000, 160_004]] }, kallsyms: { ps: [[310_000, 310_004]], mod: [[320_000, 320_512]] } },
  };
}

describe("planCase()", () => {
  const zeros = (_b: Base, _o: number, n: number) => new Uint8Array(n);
  test("aims most kallsyms, BTF and ORC cases at the entries a command used, with that command", () => {
    const bases = [fakeBase("6.1-x", "6.1", "elf")];
    const plans = Array.from({ length: 400 }, (_, i) => planCase(bases, 7, i, zeros, ["ORC", "kallsyms"]));
    expect(new Set(plans.map((p) => p.structure))).toEqual(new Set(["ORC", "kallsyms"]));
    const aimed = plans.filter((p) => p.aimed);
    // HOT_SHARE is 0.8: 320 of 400 expected
    expect(aimed.length).toBeGreaterThan(280);
    expect(aimed.length).toBeLessThan(360);
    const hot = bases[0]!.hot!;
    for (const p of aimed) {
      const entries = hot[p.structure]![p.command]!;
      expect(entries).toBeDefined();
      // a u32/u64 write starts at most 7 bytes before the byte drawn
      for (const x of p.patches) expect(entries.some(([s, e]) => x.offset >= s - 7 && x.offset < e)).toBe(true);
    }
    expect(aimed.some((p) => p.command === "mod") && aimed.some((p) => p.command === "ps")).toBe(true);
  });

  test("keeps to the structures asked for, and says when no base holds them", () => {
    const bases = [fakeBase("6.1-x", "6.1", "elf")];
    for (let i = 0; i < 50; i++) expect(planCase(bases, 1, i, zeros, ["headers"]).structure).toBe("headers");
    expect(() => planCase(bases, 1, 0, zeros, ["BTF"])).toThrow("no base holds BTF");
  });
});

describe("coverage()", () => {
  test("counts cases and outcome-changing cases per kernel line, machine and format", () => {
    const r = (base: Base, changed: boolean) => ({ plan: { structure: "ORC" as const, base }, changed, outcome: "ok" as const });
    const a = fakeBase("7.2-sysrq", "7.2.13", "elf");
    const b = fakeBase("7.2-sysrq", "7.2.13", "mdf-snappy");
    const c = { ...fakeBase("7.2-arm", "7.2.13", "elf"), machine: "aarch64" };
    const text = coverage([r(a, true), r(a, false), r(b, true), r(c, false)]);
    expect(text.split("\n")).toEqual([
      "cases/outcome-changing  elf  mdf-snappy",
      "7.2.13 aarch64          1/0           -",
      "7.2.13 x86_64           2/1         1/1",
    ]);
  });
});

describe("discoverDumps()", () => {
  test("finds finished dumps of any machine, not those still being captured", () => {
    const lab = mkdtempSync(join(tmpdir(), "kdump-fuzz-lab-"));
    try {
      const elf = (machine: number) => {
        const h = new Uint8Array(64);
        h.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
        new DataView(h.buffer).setUint16(18, machine, true);
        return h;
      };
      const dump = (name: string, files: Record<string, string | Uint8Array>) => {
        mkdirSync(join(lab, "dumps", name), { recursive: true });
        for (const [f, body] of Object.entries(files)) writeFileSync(join(lab, "dumps", name, f), body);
      };
      dump("7.2.13+deb14-cloud-arm64-sysrq", { vmcore: elf(183), "spec.json": JSON.stringify({ release: "7.2.13+deb14-cloud-arm64" }) });
      dump("6.1.0-57-cloud-amd64-thp", { vmcore: elf(62), "console.log": "" });
      dump("6.12.117+deb12-cloud-amd64-anon", { "capture.raw": "" });
      dump("6.12.117+deb12-cloud-amd64-kmsg", { vmcore: elf(62) });
      mkdirSync(join(lab, "dumps", "6.1.0-57-cloud-amd64-thp.lock"));
      expect(discoverDumps(lab).map((d) => [d.name, d.release, d.machine])).toEqual([
        ["6.1.0-57-cloud-amd64-thp", "6.1.0-57-cloud-amd64", "x86_64"],
        ["7.2.13+deb14-cloud-arm64-sysrq", "7.2.13+deb14-cloud-arm64", "aarch64"],
      ]);
    } finally {
      rmSync(lab, { recursive: true, force: true });
    }
  });
});

describe("pinBases()", () => {
  test("a resumed run plans over the bases its start saw, in that order, and refuses when one is gone", () => {
    const dir = mkdtempSync(join(tmpdir(), "kdump-fuzz-pin-"));
    try {
      const manifest = join(dir, "results-seed5.bases.json");
      const [a, b, c] = [fakeBase("a", "6.1", "elf"), fakeBase("b", "6.1", "elf"), fakeBase("c", "7.2", "elf")];
      expect(pinBases([a, b], manifest, true)).toEqual([a, b]);
      // a dump built since (c) and another listing order do not change the plan
      expect(pinBases([c, b, a], manifest, false).map((x) => x.name)).toEqual(["a/elf", "b/elf"]);
      expect(() => pinBases([a, c], manifest, false)).toThrow("bases that are gone: b/elf");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("asBase()", () => {
  test("a run on a worker's copy prints what the clean run on the base printed (sys names the file)", () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    const copy = "/w/worker0/6.1_elf";
    const clean = enc("    DUMPFILE: /w/bases/6.1/elf.dump  [elf]\n        CPUS: 2\n");
    const run = enc("    DUMPFILE: /w/worker0/6.1_elf  [elf]\n        CPUS: 2\n");
    expect(Bun.hash(asBase(run, copy, "/w/bases/6.1/elf.dump"))).toBe(Bun.hash(clean));
    // bytes that are not UTF-8 (a garbled comm) stay as they are
    const raw = Uint8Array.from([0xff, 0xfe, 0x41]);
    expect(asBase(raw, copy, "/x")).toEqual(raw);
  });
});

describe("prepareBases()", () => {
  test("keeps the other formats with the dump that has them when another dump of that kernel sorts first", async () => {
    const lab = mkdtempSync(join(tmpdir(), "kdump-fuzz-owner-"));
    try {
      const elf = new Uint8Array(64);
      elf.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
      new DataView(elf.buffer).setUint16(18, 62, true);
      for (const name of ["5.10.0-32-cloud-amd64-sysrq", "5.10.0-32-cloud-amd64-thp-oom"]) {
        mkdirSync(join(lab, "dumps", name), { recursive: true });
        writeFileSync(join(lab, "dumps", name, "vmcore"), elf);
        writeFileSync(join(lab, "dumps", name, "spec.json"), JSON.stringify({ release: "5.10.0-32-cloud-amd64" }));
      }
      // thp-oom finished first and got its kdump-zstd base; sysrq, which sorts first, came later
      const work = join(lab, "bases");
      const dir = join(work, "5.10.0-32-cloud-amd64-thp-oom");
      mkdirSync(dir, { recursive: true });
      const base = { ...fakeBase("5.10.0-32-cloud-amd64-thp-oom", "5.10.0-32-cloud-amd64", "kdump-zstd"), file: join(dir, "kdump-zstd.dump"), code: codeVersion() };
      writeFileSync(base.file, "");
      writeFileSync(join(dir, "kdump-zstd.hot.json"), "{}");
      writeFileSync(join(dir, "kdump-zstd.json"), JSON.stringify(base));
      const got = await prepareBases(lab, work, { cachedOnly: true, formats: ["kdump-zstd"] });
      expect(got.map((b) => b.name)).toEqual(["5.10.0-32-cloud-amd64-thp-oom/kdump-zstd"]);
    } finally {
      rmSync(lab, { recursive: true, force: true });
    }
  });
});
