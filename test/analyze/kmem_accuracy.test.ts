// kmem -i and kmem -s against what the crashed kernel itself printed a moment before the crash: a lab guest cats
// /proc/meminfo and /proc/slabinfo to the serial console, then crashes: with sysrq 'c', in a hung-task panic, and in
// a soft-lockup panic. TOTAL MEM must equal MemTotal; FREE, CACHED, BUFFERS and SLAB must be within 1% of MemTotal;
// the largest slab caches' object counts within 2%. On the hung-task dump, `foreach UN bt` names the stuck writer
// with its wait. Boots a guest per kernel line and scenario the first time (cached under .lab/dumps): matrix.
import { describe, expect, test } from "bun:test";
import { analyze } from "../../lib/analyze/command.ts";
import type { MemInfo } from "../../lib/kernel/meminfo.ts";
import { LINES } from "../dump/_peers.ts";
import { labDump, type LabDump } from "../lab/dumps.ts";
import { MATRIX } from "../_matrix.ts";
import { hungTaskDump, softLockupDump } from "./_panics.ts";

const LAB = 1_800_000;

/** A sysrq crash right after the guest printed /proc/meminfo and /proc/slabinfo between marker lines. */
export const memInfoDump = (line: string): Promise<LabDump> =>
  labDump({
    line,
    scenario: "meminfo",
    crash: [
      "echo LAB-MEMINFO-BEGIN; cat /proc/meminfo; echo LAB-MEMINFO-END",
      "echo LAB-SLABINFO-BEGIN; cat /proc/slabinfo; echo LAB-SLABINFO-END",
      "echo c > /proc/sysrq-trigger",
    ].join("\n"),
  });

/** The lines of the console between `begin` and `end` markers (the last such block). */
function block(console: string, begin: string, end: string): string[] {
  const text = console.replace(/\r/g, "");
  const from = text.lastIndexOf(`\n${begin}\n`);
  const to = text.indexOf(`\n${end}\n`, from + 1);
  if (from < 0 || to < 0) throw new Error(`the guest console has no ${begin} block`);
  return text.slice(from + begin.length + 2, to).split("\n");
}

/** Each scenario's dump and the prefix of the marker lines its guest printed meminfo and slabinfo between. */
const SCENARIOS: [string, (line: string) => Promise<LabDump>, string][] = [
  ["sysrq", memInfoDump, "LAB-"],
  ["hung-task panic", hungTaskDump, ""],
  ["soft-lockup panic", softLockupDump, ""],
];

describe.if(MATRIX).each(LINES.flatMap((line) => SCENARIOS.map(([name, dump, mark]) => [line, name, dump, mark] as const)))("kmem accuracy on %s, %s", (line, _name, dump, mark) => {
  test("kmem -i: TOTAL MEM is MemTotal; FREE, CACHED, BUFFERS, SLAB within 1% of it", async () => {
    const d = await dump(line);
    const kb = new Map(block(d.console, `${mark}MEMINFO-BEGIN`, `${mark}MEMINFO-END`).map((l) => /^(\w+):\s+(\d+) kB/.exec(l)).filter(Boolean).map((m) => [m![1]!, Number(m![2])]));
    const m = JSON.parse(analyze(d.vmcore, "kmem", { json: true, args: ["-i"] }) as string) as MemInfo;
    const k = (pages: number) => (pages * m.pageSize) / 1024;
    expect(k(m.total)).toBe(kb.get("MemTotal")!);
    const tolerance = kb.get("MemTotal")! / 100;
    for (const [ours, theirs] of [[m.free, "MemFree"], [m.cached, "Cached"], [m.buffers, "Buffers"], [m.slab, "Slab"]] as const)
      expect([theirs, Math.abs(k(ours) - kb.get(theirs)!) <= tolerance]).toEqual([theirs, true]);
  }, LAB);

  test("kmem -s: the 10 largest caches' allocated and total objects within 2% of slabinfo", async () => {
    const d = await dump(line);
    const slabinfo = block(d.console, `${mark}SLABINFO-BEGIN`, `${mark}SLABINFO-END`)
      .map((l) => /^(\S+)\s+(\d+)\s+(\d+)\s+\d+\s+\d+\s+\d+ : tunables/.exec(l))
      .filter(Boolean)
      .map((r) => ({ name: r![1]!, active: Number(r![2]), total: Number(r![3]) }))
      .sort((a, b) => b.total - a.total)
      .slice(0, 10);
    expect(slabinfo.length).toBe(10);
    const ours = JSON.parse(analyze(d.vmcore, "kmem", { json: true, args: ["-s"] }) as string) as { name: string; allocated: number; total: number }[];
    for (const s of slabinfo) {
      const c = ours.find((o) => o.name === s.name);
      expect(c).toBeDefined();
      expect([s.name, Math.abs(c!.total - s.total) <= s.total * 0.02, Math.abs(c!.allocated - s.active) <= s.active * 0.02]).toEqual([s.name, true, true]);
    }
  }, LAB);
});

describe.if(MATRIX).each(LINES)("foreach UN bt on a %s hung-task dump", (line) => {
  test("names the writer stuck on the frozen filesystem, with its wait path and how long it has not run", async () => {
    const d = await hungTaskDump(line);
    const told = /INFO: task sh:(\d+) blocked for more than (\d+) seconds/.exec(d.console)!;
    const { tasks } = JSON.parse(analyze(d.vmcore, "foreach", { json: true, args: ["UN", "bt"] }) as string) as { tasks: { pid: number; comm: string; frames: { function?: string }[]; waitingNs?: number }[] };
    const writer = tasks.find((t) => t.pid === Number(told[1]));
    expect(writer?.comm).toBe("sh");
    const fns = writer!.frames.map((f) => f.function ?? "");
    expect(fns).toContain("schedule");
    expect(fns.some((f) => /percpu_rwsem_wait|__percpu_down_read|sb_start_write|mnt_want_write/.test(f))).toBe(true);
    expect(writer!.waitingNs! / 1e9).toBeGreaterThanOrEqual(Number(told[2]));
    const text = analyze(d.vmcore, "foreach", { args: ["UN", "bt"] }) as string;
    expect(text).toMatch(new RegExp(`PID: ${told[1]} +TASK: `));
    expect(text).toMatch(/LAST RAN: .* ago/);
  }, LAB);
});
