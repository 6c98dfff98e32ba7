// ps -l / ps -m and foreach on the sysrq lab dumps of every kernel line: last_arrival of every task as drgn 0.0.22
// reads it with the -dbg vmlinux (crash 8.0.2's ps sees only 3 tasks on 6.1 and no 6.12 dump); foreach IN bt traces
// exactly the sleeping tasks ps lists, each stopped in __schedule.
import { describe, expect, test } from "bun:test";
import { analyze } from "../../lib/analyze/command.ts";
import type { BtTask } from "../../lib/analyze/bt.ts";
import type { PsResult } from "../../lib/analyze/ps.ts";
import type { TaskTime } from "../../lib/analyze/ps_time.ts";
import type { TaskSignals } from "../../lib/analyze/sig.ts";
import { LINES, sysrqDump } from "../dump/_peers.ts";
import { DRGN_PEERS } from "../kernel/_sid.ts";
import { debugKernel } from "../kernel/_images.ts";

const LAB = 900_000;

const CASES = LINES.flatMap((line) => DRGN_PEERS.map(([version, drgnJson]) => ({ line, version, drgnJson })));

describe.each(CASES)("ps -l, ps -m and foreach on $line (drgn $version)", ({ line, drgnJson }) => {
  test("ps -l gives each task's sched_info.last_arrival as drgn reads it, newest first", async () => {
    const vmcore = (await sysrqDump(line)).vmcore;
    const want = await drgnJson<[number, number][]>(
      (await debugKernel(line)).vmlinux,
      `print(json.dumps(sorted([t.pid.value_(), t.sched_info.last_arrival.value_()] for t in for_each_task(prog))))`,
      vmcore,
    );
    const rows = JSON.parse(analyze(vmcore, "ps", { json: true, args: ["-l"] }) as string) as TaskTime[];
    const arrivals = rows.map((r) => r.lastArrival);
    expect(arrivals).toEqual([...arrivals].sort((a, b) => b - a));
    expect(rows.filter((r) => r.pid !== 0).map((r) => [r.pid, r.lastArrival]).sort((a, b) => a[0]! - b[0]!)).toEqual(want.filter(([p]) => p !== 0));
    const text = analyze(vmcore, "ps", { args: ["-m"] }) as string;
    expect(text).toMatch(/^\[\d+ \d\d:\d\d:\d\d\.\d{3}\] \[(RU|IN|ID|UN)\]  PID: /m);
  }, LAB);

  test("foreach IN bt traces every IN task of ps, each from __schedule", async () => {
    const vmcore = (await sysrqDump(line)).vmcore;
    const ps = JSON.parse(analyze(vmcore, "ps", { json: true }) as string) as PsResult;
    const sleeping = ps.tasks.filter((t) => t.state === "S" && !t.active).map((t) => t.pid);
    const { tasks } = JSON.parse(analyze(vmcore, "foreach", { json: true, args: ["IN", "bt"] }) as string) as { tasks: (BtTask & { waitingNs: number })[] };
    expect(tasks.map((t) => t.pid).sort((a, b) => a - b)).toEqual(sleeping.sort((a, b) => a - b));
    for (const t of tasks) {
      expect([t.pid, t.frames[0]?.function]).toEqual([t.pid, "__schedule"]);
      expect(t.waitingNs).toBeGreaterThanOrEqual(0);
    }
  }, LAB);
});

describe.each(CASES)("sig on $line against drgn $version", ({ line, drgnJson }) => {
  test("sig 1 gives init's blocked mask and non-default handlers as drgn reads them", async () => {
    const vmcore = (await sysrqDump(line)).vmcore;
    const want = await drgnJson<{ blocked: number; actions: [number, number][] }>(
      (await debugKernel(line)).vmlinux,
      `t = find_task(prog, 1)
acts = [[i + 1, t.sighand.action[i].sa.sa_handler.value_()] for i in range(64) if t.sighand.action[i].sa.sa_handler.value_()]
print(json.dumps({"blocked": t.blocked.sig[0].value_(), "actions": acts}))`,
      vmcore,
    );
    const [s] = JSON.parse(analyze(vmcore, "sig", { json: true, args: ["1"] }) as string) as TaskSignals[];
    expect(BigInt(s!.blocked)).toBe(BigInt(want.blocked));
    expect(s!.actions.filter((a) => a.handler !== "SIG_DFL").map((a) => [a.signal, a.handler === "SIG_IGN" ? 1 : Number(BigInt(a.handler))])).toEqual(want.actions);
    expect(want.actions.length).toBeGreaterThan(0);
  }, LAB);
});
