// log -T (wall-clock times from timekeeping) and log -m (levels) on the lab dumps: every line's time within a
// second of crash 8.0.2's log -T on 6.1 (crash derives the boot date from xtime and jiffies, we from offs_real),
// the last line at the dump's own CRASHTIME on both lines, and crash's <N> levels on a log with chosen levels.
import { beforeAll, describe, expect, test } from "bun:test";
import { analyze } from "../../lib/analyze/command.ts";
import type { LogRecordJson } from "../../lib/analyze/log.ts";
import { ctime } from "../../lib/analyze/log.ts";
import { openDump } from "../../lib/dump/open.ts";
import { openKernel } from "../../lib/kernel/open.ts";
import { KernelProgram } from "../../lib/kernel/program.ts";
import { readTimekeeping } from "../../lib/kernel/timekeeping.ts";
import { kmsgDump, LINES, sysrqDump } from "../dump/_peers.ts";
import { debugKernel } from "../kernel/_images.ts";
import { crashOutput } from "./_crash.ts";

const LAB = 900_000;

/** crash's "[Tue Dec  1 09:18:50 UTC 2026] text" lines as seconds and text. */
function crashTimes(text: string): { sec: number; text: string }[] {
  return [...text.matchAll(/^\[(\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d) (\w+) (\d{4})\] (.*)$/gm)].map((m) => ({ sec: Date.parse(`${m[1]} ${m[3]} ${m[2]}`) / 1000, text: m[4]! }));
}

test("ctime() prints like C's ctime with the zone before the year", () => {
  process.env.TZ = "UTC";
  expect(ctime(1796116730)).toBe("Tue Dec  1 09:18:50 UTC 2026");
});

describe.each(LINES)("log -T and -m on %s", (line) => {
  let vmcore = "";
  beforeAll(async () => {
    vmcore = (await sysrqDump(line)).vmcore;
  }, LAB);

  test("timekeeping's wall clock is the dump's CRASHTIME, and the last log line is stamped with it", () => {
    const dump = openDump(vmcore);
    const k = openKernel(dump);
    const tk = readTimekeeping(new KernelProgram(k));
    expect(Number(tk.xtimeSec)).toBe(k.info.crashTime!);
    dump.close();
    const recs = JSON.parse(analyze(vmcore, "log", { json: true, args: ["-T"] })) as LogRecordJson[];
    const last = Date.parse(recs.at(-1)!.time!) / 1000;
    expect(last).toBeLessThanOrEqual(k.info.crashTime!);
    expect(last).toBeGreaterThanOrEqual(k.info.crashTime! - 1);
    // boot is earlier by the uptime of the last record
    expect(Date.parse(recs[0]!.time!) / 1000).toBeCloseTo(last - Number(recs.at(-1)!.ts_nsec) / 1e9, -0.5);
  }, 60_000);

  test("log -T -m prints crash's bracketed time and <level> before each line", () => {
    const text = analyze(vmcore, "log", { args: ["-Tm"] });
    expect(text).toMatch(/^\[\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \S+ \d{4}\] <5>Linux version /);
    expect(text).toMatch(/\] <0>Kernel panic - not syncing: sysrq triggered crash\n/);
    expect(() => analyze(vmcore, "log", { args: ["-x"] })).toThrow(/log: unknown argument -x/);
  }, 60_000);

  test.skipIf(line !== "6.1")("log -T is within a second of crash 8.0.2's log -T on every line", async () => {
    process.env.TZ = "UTC";
    const dbg = await debugKernel(line);
    const theirs = crashTimes(await crashOutput(vmcore, dbg.vmlinux, ["log -T"]));
    const ours = crashTimes(analyze(vmcore, "log", { args: ["-T"] }));
    expect(ours.length).toBe(theirs.length);
    expect(theirs.length).toBeGreaterThan(300);
    ours.forEach((o, i) => {
      expect(o.text).toBe(theirs[i]!.text);
      expect(Math.abs(o.sec - theirs[i]!.sec)).toBeLessThanOrEqual(1);
    });
  }, LAB);
});

describe("log -m against crash", () => {
  test("log -m gives crash 8.0.2's <level> on every line of a log with chosen levels (6.1)", async () => {
    const vmcore = (await kmsgDump("6.1")).vmcore;
    const dbg = await debugKernel("6.1");
    const theirs = [...(await crashOutput(vmcore, dbg.vmlinux, ["log -m"])).matchAll(/^\[ *\d+\.\d+\] <(\d+)>/gm)].map((m) => m[1]);
    const ours = [...analyze(vmcore, "log", { args: ["-m"] }).matchAll(/^\[ *\d+\.\d+\] <(\d+)>/gm)].map((m) => m[1]);
    expect(ours.length).toBeGreaterThan(300);
    expect(ours).toEqual(theirs);
    expect(new Set(ours).size).toBeGreaterThanOrEqual(4);
  }, LAB);
});
