// ps on real lab dumps of both kernel lines, no debuginfo: exactly the tasks drgn lists from DWARF (the -dbg
// vmlinux) on the same dump, with the same pid, comm, state letter, CPU and parent; the idle tasks besides.
import { describe, expect, test } from "bun:test";
import { analyze } from "../../lib/analyze/command.ts";
import type { PsResult } from "../../lib/analyze/ps.ts";
import { LINES, sysrqDump } from "../dump/_peers.ts";
import { drgnJson } from "../kernel/_drgn.ts";
import { debugKernel } from "../kernel/_images.ts";

const LAB = 900_000; // building a lab dump boots QEMU

describe.each(LINES)("ps on %s", (line) => {
  test("ps lists the tasks drgn lists (pid, comm, state, cpu, ppid), idle tasks aside", async () => {
    const vmcore = (await sysrqDump(line)).vmcore;
    const want = await drgnJson<[number, string, string, number, number][]>(
      (await debugKernel(line)).vmlinux,
      `print(json.dumps(sorted([[t.pid.value_(), t.comm.string_().decode(), task_state_to_char(t), task_cpu(t), t.real_parent.tgid.value_()] for t in for_each_task(prog)])))`,
      vmcore,
    );
    const ps = JSON.parse(analyze(vmcore, "ps", { json: true }) as string) as PsResult;
    expect(ps.errors).toBeUndefined();
    const ours = ps.tasks;
    const idle = ours.filter((t) => t.pid === 0);
    expect(idle.map((t) => t.comm)).toEqual(idle.map((t) => `swapper/${t.cpu}`));
    const rows = ours.filter((t) => t.pid !== 0).map((t) => [t.pid, t.comm, t.state, t.cpu, t.ppid]);
    rows.sort((a, b) => (a[0] as number) - (b[0] as number));
    expect(want.length).toBeGreaterThan(40);
    expect(rows).toEqual(want);
    expect(ours.filter((t) => t.active).length).toBe(2);
  }, LAB);

  test("ps text marks the running tasks and brackets kernel threads, as crash does", async () => {
    const text = analyze((await sysrqDump(line)).vmcore, "ps") as string;
    const lines = text.trimEnd().split("\n");
    expect(lines[0]).toBe("   PID    PPID  CPU       TASK        ST  COMM");
    expect(lines[1]).toMatch(/^[ >]     0       0    0  [0-9a-f]{16}  RU  \[swapper\/0\]$/);
    expect(lines.find((l) => / 1 +0 +\d +[0-9a-f]{16}  IN  init$/.test(l))).toBeDefined();
    expect(lines.filter((l) => l.startsWith(">")).length).toBe(2);
  }, LAB);
});
