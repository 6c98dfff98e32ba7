// A small fixed-seed slice of the dump fuzzer (`npm run fuzz` runs the big one): mutated bytes of a real lab dump
// in four formats, each case `kdump analyze` in a subprocess. Every case must end ok or in one `kdump: …` line
// naming the file: no stack trace, hang, signal or run over 500 MB.
import { beforeAll, describe, expect, test } from "bun:test";
import { basename, dirname, join } from "node:path";
import { labDir } from "../../lib/lab/labdir.ts";
import { sysrqDump } from "../dump/_peers.ts";
import { classifyError } from "./_case.ts";
import { failures, formatTable, fuzz, type FuzzReport } from "./fuzz.ts";

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
    expect(formatTable(report)).toContain("structure  cases  changed  ok  clean error");
  });
});

describe("classifyError()", () => {
  test("tells a clean line from a stack trace and from a line without the file", () => {
    expect(classifyError("kdump: /d/v: nr_cpu_ids at 0x… is 0: try another dump\n", "/d/v")).toBe("clean error");
    expect(classifyError("kdump: Out of bounds access\n", "/d/v")).toBe("bad message");
    expect(classifyError("1 | const x\n    ^\nRangeError: Out of bounds access\n      at parseNotes (notes.ts:3:1)\n", "/d/v")).toBe("stack trace");
  });
});
