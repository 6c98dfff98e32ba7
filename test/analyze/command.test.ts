// `kdump analyze VMCORE [report|log|sys] [--json]`: the report is sys then the log from just before the panic,
// the CLI prints vmcore-dmesg's bytes exactly, JSON parses, and the dispatch table is the list of commands.
import { beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { analyze, analyzeCommands, AnalyzeContext } from "../../lib/analyze/command.ts";
import { crashTail } from "../../lib/analyze/report.ts";
import { formatSys, readSys } from "../../lib/analyze/sys.ts";
import { openDump } from "../../lib/dump/open.ts";
import { BadDataError } from "../../lib/errors.ts";
import { expectBytes, LINES, sysrqDump, vmcoreDmesg } from "../dump/_peers.ts";
import type { LabDump } from "../lab/dumps.ts";

const LAB = 900_000;
const ROOT = join(import.meta.dir, "..", "..");
const kdump = (...args: string[]) => Bun.spawnSync([process.execPath, join(ROOT, "kdump.ts"), ...args], { cwd: ROOT, env: { ...process.env, KDUMP_DEBUG: "" } });

describe.each(LINES)("kdump analyze on a %s crash", (line) => {
  let lab: LabDump;
  let peer: Buffer;
  beforeAll(async () => {
    lab = await sysrqDump(line);
    peer = await vmcoreDmesg(lab.vmcore);
  }, LAB);

  test("with no command starts with sys, a blank line, then vmcore-dmesg's lines from 5 before the panic to the end", () => {
    const sys = formatSys(readSys(new AnalyzeContext(openDump(lab.vmcore))));
    const lines = peer.toString().trimEnd().split("\n");
    const panic = lines.findLastIndex((l) => l.includes("Kernel panic - not syncing"));
    const want = lines.slice(Math.max(panic - 5, lines.length - 60));
    expect((analyze(lab.vmcore) as string).startsWith(`${sys}\n${want.join("\n")}\n`)).toBe(true);
    expect(want[5]).toContain("Kernel panic - not syncing: sysrq triggered crash");
  });

  test("log on the CLI writes vmcore-dmesg's bytes to stdout and exits 0", () => {
    const r = kdump("analyze", lab.vmcore, "log");
    expect(r.exitCode).toBe(0);
    expectBytes(r.stdout, peer);
    expect(r.stderr.toString()).toBe("");
  });

  test("sys --json and report --json print parseable JSON with the release", () => {
    for (const cmd of ["sys", "report"]) {
      const r = kdump("analyze", lab.vmcore, cmd, "--json");
      expect(r.exitCode).toBe(0);
      const data = JSON.parse(r.stdout.toString());
      expect(cmd === "sys" ? data.release : data.sys.release).toBe(lab.kernel.release);
    }
  });

  test("a reader that stops early (| head -1) is not an error", () => {
    const r = Bun.spawnSync(["bash", "-c", `"$0" "$1" analyze "$2" log | head -1; echo "status \${PIPESTATUS[0]}"`, process.execPath, join(ROOT, "kdump.ts"), lab.vmcore]);
    expect(r.stdout.toString()).toMatch(/^\[    0\.000000\] Linux version .*\nstatus 0\n$/);
    expect(r.stderr.toString()).toBe("");
  });
});

describe("analyzeCommands", () => {
  test("has crash's names plus the report, each described", () => {
    for (const name of ["report", "log", "sys"]) expect(Object.keys(analyzeCommands)).toContain(name);
    for (const c of Object.values(analyzeCommands)) expect(c.describe.length).toBeGreaterThan(10);
  });
  test("an unknown command is a UsageError naming the known ones", () => {
    expect(() => analyze("/nonexistent", "frobnicate")).toThrow("unknown analyze command frobnicate");
  });
  test("crashTail() keeps the last 20 lines when no panic is found", () => {
    const text = Array.from({ length: 30 }, (_, i) => `[    0.000000] line ${i}`).join("\n") + "\n";
    expect(crashTail(text, null)).toHaveLength(20);
    expect(crashTail(text, "line 27")).toEqual(["[    0.000000] line 22", "[    0.000000] line 23", "[    0.000000] line 24", "[    0.000000] line 25", "[    0.000000] line 26", "[    0.000000] line 27", "[    0.000000] line 28", "[    0.000000] line 29"]);
  });
});

// issue 18: four mutated dumps printed Bun's raw "Out of bounds access" inside the message
describe("analyze on kernel data that makes no sense", () => {
  test("a DataView read past its bytes becomes a BadDataError naming the structure being read, with a hint", async () => {
    const real = openDump((await sysrqDump("6.1")).vmcore);
    // every small read comes back one byte short, as a structure cut by nonsense sizes would
    const short: typeof real = Object.create(real, {
      readPhys: { value: (paddr: bigint, length: number, zeroFill?: boolean) => real.readPhys(paddr, length, zeroFill).subarray(0, length > 1 && length <= 8 ? length - 1 : length) },
    });
    let err: unknown;
    try {
      analyzeCommands.ps!.run(new AnalyzeContext(short));
    } catch (e) {
      err = e;
    }
    const line = (err as BadDataError).summary();
    expect(err).toBeInstanceOf(BadDataError);
    expect(line).toMatch(/^the kallsyms tables at 0x[0-9a-f]{16}: a field lies outside the bytes that hold it: .*--system-map/);
    expect(line).not.toContain("Out of bounds");
    real.close();
  }, LAB);
});
