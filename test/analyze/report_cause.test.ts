// The report's cause: an oops names the faulting instruction, disassembled, at the RIP the kernel itself printed
// (module oops in init and in a timer, both lines); a sysrq panic is named by its panic string; a hung-task panic
// (matrix) lists every D-state task with its trace into the frozen filesystem's wait and how long it waited; a
// soft lockup (matrix) names the stuck CPU and shows its trace inside the spinning module first.
import { beforeAll, describe, expect, test } from "bun:test";
import { analyze } from "../../lib/analyze/command.ts";
import type { Cause } from "../../lib/analyze/explain.ts";
import { causeKind, oomTable } from "../../lib/analyze/explain.ts";
import { loadDisassembler } from "../../lib/kernel/disasm.ts";
import { LINES, sysrqDump } from "../dump/_peers.ts";
import { MATRIX } from "../_matrix.ts";
import { oopsDump } from "./_oops.ts";
import { hungTaskDump, softLockupDump } from "./_panics.ts";

const LAB = 900_000;

function cause(vmcore: string): Cause {
  return (JSON.parse(analyze(vmcore, "report", { json: true })) as { cause: Cause }).cause;
}

test("causeKind() reads the kernel's words; oomTable() the OOM killer's task table", () => {
  expect(causeKind(["[ 1.0] watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [insmod:99]", "[ 1.1] Kernel panic - not syncing: softlockup: hung tasks"]).kind).toBe("soft_lockup");
  expect(causeKind(["[ 9.0] INFO: task sh:80 blocked for more than 2 seconds.", "[ 9.1] Kernel panic - not syncing: hung_task: blocked tasks"]).kind).toBe("hung_task");
  expect(causeKind(["[ 2.0] BUG: kernel NULL pointer dereference, address: 0000000000000000"]).kind).toBe("oops");
  expect(causeKind(["[ 1.0] Kernel panic - not syncing: sysrq triggered crash"]).kind).toBe("other");
  const table = oomTable([
    "[   12.1] [  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name",
    "[   12.1] [    101]     0   101     1000      200    45056        0             0 sh",
    "[   12.1] [    102]     0   102   300000   250000  2048000        0             0 hog",
  ]);
  expect(table).toEqual([{ pid: 102, comm: "hog", rssPages: 250000 }, { pid: 101, comm: "sh", rssPages: 200 }]);
});

describe.each(LINES)("the report's cause on %s", (line) => {
  beforeAll(loadDisassembler);

  test.each(["init", "timer"])("an oops in a module (%s) shows the faulting store disassembled at the kernel's RIP", async (where) => {
    const d = await oopsDump(line, where as "init" | "timer");
    const c = cause(d.vmcore);
    expect(c.kind).toBe("oops");
    const rip = /RIP: 0010:(oops_crash\S*)\+0x([0-9a-f]+)\//.exec(d.console)!;
    const at = c.fault!.instructions.find((i) => i.address === c.fault!.at)!;
    expect(at.symbol).toBe(`${rip[1]}+${parseInt(rip[2]!, 16)}`);
    expect(at.module).toBe("oops");
    // WRITE_ONCE(*NULL, 42)
    expect(`${at.mnemonic} ${at.operands}`).toMatch(/^movl \$0x2a, 0$/);
    expect(analyze(d.vmcore)).toMatch(/\nCAUSE: kernel oops: .*\n\nthe faulting instruction \(=>\):\n(   .*\n)*=> 0x[0-9a-f]{16} <oops_crash\S*\+\d+>:\tmovl   \$0x2a, 0\n/);
  }, LAB);

  test("a sysrq panic is named by its panic string", async () => {
    const c = cause((await sysrqDump(line)).vmcore);
    expect(c).toMatchObject({ kind: "other", summary: 'panic: "sysrq triggered crash"' });
  }, LAB);

  test.skipIf(!MATRIX)("a hung-task panic lists the D-state writer with its wait in the frozen filesystem and how long it waited", async () => {
    const d = await hungTaskDump(line);
    expect(d.console).toContain("MEMINFO-BEGIN");
    const c = cause(d.vmcore);
    expect(c.kind).toBe("hung_task");
    const writer = c.stuck!.find((t) => t.comm === "sh");
    expect(writer).toBeDefined();
    const fns = writer!.bt.frames.map((f) => f.function);
    expect(fns).toContain("schedule");
    expect(fns.some((f) => /percpu_rwsem_wait|__percpu_down_read|sb_start_write|mnt_want_write/.test(f ?? ""))).toBe(true);
    const told = /INFO: task sh:(\d+) blocked for more than (\d+) seconds/.exec(d.console)!;
    expect(writer!.pid).toBe(Number(told[1]));
    expect(writer!.waited!).toBeGreaterThanOrEqual(Number(told[2]));
    expect(writer!.waited!).toBeLessThan(120);
    expect(analyze(d.vmcore)).toMatch(/\nCAUSE: hung task panic: \d+ task\(s\) in D state \(.*sh:\d+.*\)/);
  }, LAB);

  test.skipIf(!MATRIX)("a soft-lockup panic names the stuck CPU and shows its trace in the spinning module, then the other CPU's", async () => {
    const d = await softLockupDump(line);
    expect(d.console).toContain("SLABINFO-END");
    const c = cause(d.vmcore);
    expect(c.kind).toBe("soft_lockup");
    const told = /soft lockup - CPU#(\d+) stuck for (\d+)s! \[insmod:(\d+)\]/.exec(d.console)!;
    expect(c.cpu).toBe(Number(told[1]));
    expect(c.summary).toContain(`CPU ${told[1]} stuck for`);
    expect(c.cpus!.length).toBe(2);
    const stuck = c.cpus![0]!;
    expect(stuck.cpu).toBe(Number(told[1]));
    expect(stuck.comm).toBe("insmod");
    expect(stuck.frames.some((f) => f.module === "spin" && /^spin_/.test(f.function ?? ""))).toBe(true);
    expect(c.cpus![1]!.cpu).not.toBe(stuck.cpu);
  }, LAB);
});
