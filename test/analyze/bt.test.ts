// bt on real lab dumps of both kernel lines, no debuginfo: the panic task's trace lists the functions the kernel
// itself printed in its "Call Trace:" (sysrq panic; oops in a module's init; oops in a module's timer callback on
// the IRQ stack), module frames carry [oops], every CPU and every sleeping task unwinds to the end of its stack,
// and on 6.1 the sleeping tasks' traces equal drgn's (DWARF, from the -dbg vmlinux).
import { beforeAll, describe, expect, test } from "bun:test";
import { analyze } from "../../lib/analyze/command.ts";
import { backtraces, formatBt, type BtTask } from "../../lib/analyze/bt.ts";
import type { PsResult } from "../../lib/analyze/ps.ts";
import { openDump } from "../../lib/dump/open.ts";
import { openKernel } from "../../lib/kernel/open.ts";
import { KernelProgram } from "../../lib/kernel/program.ts";
import { readModules } from "../../lib/kernel/modules.ts";
import { forEachTask, readTask } from "../../lib/kernel/tasks.ts";
import { LINES, makedumpfileOutput, sysrqDump } from "../dump/_peers.ts";
import { drgnJson } from "../kernel/_drgn.ts";
import { debugKernel } from "../kernel/_images.ts";
import { kernelCallTrace, sameTrace } from "./_calltrace.ts";
import { oopsDump } from "./_oops.ts";
import { crashOutput } from "./_crash.ts";

const LAB = 900_000; // building a lab dump boots QEMU; building the module downloads the headers

/** "function [module]" per frame, leaving out each interrupted function the kernel shows as "RIP:" instead. */
function story(t: BtTask): string[] {
  return t.frames.filter((f, i) => !(i > 0 && t.frames[i - 1]!.exception && !t.frames[i - 1]!.exception!.user)).map((f) => (f.module ? `${f.function} [${f.module}]` : f.function!));
}

function panicBt(vmcore: string): BtTask {
  const data = JSON.parse(analyze(vmcore, "bt", { json: true }) as string) as { tasks: BtTask[] };
  expect(data.tasks.length).toBe(1);
  return data.tasks[0]!;
}

describe.each(LINES)("bt on %s", (line) => {
  const dumps: Record<string, string> = {};
  beforeAll(async () => {
    dumps.sysrq = (await sysrqDump(line)).vmcore;
    dumps.init = (await oopsDump(line, "init")).vmcore;
    dumps.timer = (await oopsDump(line, "timer")).vmcore;
  }, LAB);

  test.each(["sysrq", "init", "timer"])("bt of the panic task (%s crash) lists the kernel's printed Call Trace", (scenario) => {
    const t = panicBt(dumps[scenario]!);
    const kernel = kernelCallTrace(dumps[scenario]!);
    expect(kernel.length).toBeGreaterThan(4);
    expect(t.error).toBeUndefined();
    const ours = story(t);
    expect({ ours, kernel, ...sameTrace(ours, kernel) }).toMatchObject({ ok: true });
  }, 60_000);

  test("bt of an oops in module init shows the module's frames as func [oops] and its panic header", () => {
    const t = panicBt(dumps.init!);
    expect(t.panic).toBe(true);
    expect(t.comm).toBe("insmod");
    // gcc may specialise them (oops_crash.constprop.0)
    expect(t.frames[0]).toMatchObject({ function: expect.stringMatching(/^oops_crash/), module: "oops" });
    expect(t.frames[1]).toMatchObject({ function: expect.stringMatching(/^oops_deeper/), module: "oops" });
    const text = analyze(dumps.init!, "bt") as string;
    expect(text).toMatch(/^PID: \d+ +TASK: [0-9a-f]{16}  CPU: \d+ +COMMAND: "insmod"\n #0 \[[0-9a-f]{16}\] oops_crash\S* at [0-9a-f]{16} \[oops\]\n/);
  }, 60_000);

  test("bt of an oops in a timer crosses the IRQ stack and the interrupt's pt_regs", () => {
    const t = panicBt(dumps.timer!);
    const names = t.frames.map((f) => (f.module ? `${f.function} [${f.module}]` : f.function));
    // oops_timer_fn tail-calls oops_deeper: the timer code calls straight into the module's frames
    expect(names.slice(0, 3).join(" ")).toMatch(/^oops_crash\S* \[oops\] oops_deeper\S* \[oops\] call_timer_fn$/);
    const irqEnd = t.frames.findIndex((f) => f.stack_end === "IRQ stack");
    const exc = t.frames.findIndex((f) => f.exception && !f.exception.user);
    expect(irqEnd).toBeGreaterThan(2);
    expect(exc).toBeGreaterThanOrEqual(irqEnd);
    expect(t.frames[exc]!.function).toMatch(/^asm_/);
    // the interrupted frame carries the saved RIP and RSP
    expect(t.frames[exc + 1]!.address).toBe(t.frames[exc]!.exception!.regs.ip);
    const text = formatBt([t]);
    expect(text).toContain("--- <IRQ stack> ---");
    expect(text).toMatch(/\n    \[exception RIP: \w+\+\d+\]\n    RIP: [0-9a-f]{16}  RSP: [0-9a-f]{16}  RFLAGS: [0-9a-f]{8}\n/);
  }, 60_000);

  test("bt -a, ps and mod from makedumpfile -c -d 31 equal those from the ELF dump, or ps says what is missing", async () => {
    const filtered = await makedumpfileOutput(dumps.sysrq!, "c");
    expect(analyze(filtered, "mod", { json: true })).toBe(analyze(dumps.sysrq!, "mod", { json: true }));
    const btAll = JSON.parse(analyze(dumps.sysrq!, "bt", { json: true, args: ["-a"] }) as string) as { tasks: BtTask[] };
    const btSome = JSON.parse(analyze(filtered, "bt", { json: true, args: ["-a"] }) as string) as { tasks: BtTask[] };
    expect(btSome.tasks.map((t) => t.cpu)).toEqual(btAll.tasks.map((t) => t.cpu));
    for (const [i, t] of btSome.tasks.entries()) {
      // makedumpfile 1.7.2 can drop the page of a CPU's (slab-allocated) current task on 6.12: that CPU says so,
      // the others trace exactly as from the ELF dump
      if (t.error && t.frames.length === 0) {
        expect(line).toBe("6.12");
        expect(t.error).toMatch(/not in the dump|page excluded/);
      } else expect(t).toEqual(btAll.tasks[i]!);
    }
    const all = JSON.parse(analyze(dumps.sysrq!, "ps", { json: true }) as string) as PsResult;
    const some = JSON.parse(analyze(filtered, "ps", { json: true }) as string) as PsResult;
    // makedumpfile 1.7.2 does not know 6.12's page flags and drops a page of task_structs at -d 31
    if (some.errors) {
      expect(line).toBe("6.12");
      for (const e of some.errors) expect(e).toMatch(/page excluded from the dump \(makedumpfile -d 31\)/);
      expect(all.tasks).toEqual(expect.arrayContaining(some.tasks));
      expect(some.tasks.length).toBeGreaterThan(all.tasks.length / 2);
    } else expect(some).toEqual(all);
  }, LAB);

  test("bt -a traces every CPU to the end of its stack", () => {
    const data = JSON.parse(analyze(dumps.sysrq!, "bt", { json: true, args: ["-a"] }) as string) as { tasks: BtTask[] };
    expect(data.tasks.map((t) => t.cpu)).toEqual([0, 1]);
    expect(data.tasks.filter((t) => t.panic).length).toBe(1);
    for (const t of data.tasks) {
      expect(t.error).toBeUndefined();
      const last = t.frames[t.frames.length - 1]!;
      // an idle CPU ends in the startup code; the panicking one at the syscall entry from user space; another
      // CPU may be running a kernel thread (a kworker, say: its stack ends in ret_from_fork) or user code
      if (t.pid === 0) expect(last.function).toMatch(/startup_64|start_secondary/);
      else if (t.panic) expect(last.exception?.user).toBe(true);
      else
        expect({
          pid: t.pid,
          comm: t.comm,
          last: last.function,
          ended: last.exception?.user === true || /^ret_from_fork/.test(last.function ?? ""),
        }).toMatchObject({ ended: true });
    }
  }, 60_000);

  test("bt of every sleeping task reaches user space or ret_from_fork without an error", () => {
    const prog = new KernelProgram(openKernel(openDump(dumps.sysrq!)));
    const mods = readModules(prog);
    const pids = forEachTask(prog)
      .map((a) => readTask(prog, a))
      .filter((t) => t.pid > 0)
      .map((t) => String(t.pid));
    const traces = backtraces(prog, () => mods, [...new Set(pids)]);
    expect(traces.length).toBeGreaterThan(40);
    for (const t of traces) {
      const last = t.frames[t.frames.length - 1]!;
      expect({ pid: t.pid, error: t.error }).toEqual({ pid: t.pid, error: undefined });
      expect([t.pid, last.exception?.user === true || /^ret_from_fork/.test(last.function ?? "")]).toEqual([t.pid, true]);
    }
  }, 60_000);
});

describe("bt against drgn on 6.1", () => {
  test("bt of each sleeping task lists the frames drgn unwinds (inline frames aside)", async () => {
    const vmcore = (await sysrqDump("6.1")).vmcore;
    const dbg = await debugKernel("6.1");
    // [function name from DWARF, or null for asm entry code, and the pc], up to the first user-space frame
    const want = await drgnJson<Record<string, [string | null, string][]>>(
      dbg.vmlinux,
      `
out = {}
for t in for_each_task(prog):
    if t.on_cpu.value_():
        continue
    frames = []
    for f in prog.stack_trace(t):
        if f.is_inline:
            continue
        if f.pc < 0xffff800000000000:
            break
        frames.append([f.name, "0x%016x" % f.pc])
    out[str(t.pid.value_())] = frames
print(json.dumps(out))
`,
      vmcore,
    );
    const prog = new KernelProgram(openKernel(openDump(vmcore)));
    const mods = readModules(prog);
    const traces = backtraces(prog, () => mods, Object.keys(want));
    expect(traces.length).toBeGreaterThan(40);
    for (const t of traces) {
      const ours = t.frames.map((f, i) => [want[String(t.pid)]![i]?.[0] === null ? null : f.function, f.address]);
      expect([t.pid, ours]).toEqual([t.pid, want[String(t.pid)]!]);
    }
  }, LAB);
});

describe.each(LINES)("bt -f on %s", (line) => {
  let vmcore = "";
  beforeAll(async () => {
    vmcore = (await sysrqDump(line)).vmcore;
  }, LAB);

  test("bt -f shows each frame's stack words, ending with the next frame's return address", () => {
    const t = (JSON.parse(analyze(vmcore, "bt", { json: true, args: ["-f"] }) as string) as { tasks: BtTask[] }).tasks[0]!;
    const withWords = t.frames.filter((f) => f.words);
    expect(withWords.length).toBeGreaterThan(4);
    t.frames.forEach((f, i) => {
      const next = t.frames[i + 1];
      if (!f.words || !next) return;
      expect(f.words.values.at(-1)).toBe(next.address);
      expect(BigInt(f.words.from) + BigInt(8 * f.words.values.length)).toBe(BigInt(next.sp) + 8n);
    });
    expect(analyze(vmcore, "bt", { args: ["-f"] })).toMatch(/\n #1 \[[0-9a-f]{16}\] panic at [0-9a-f]{16}\n(    [0-9a-f]{16}: ([0-9a-f]{16} ){1,2}\n)+ #2 /);
  }, 60_000);

  test.skipIf(line !== "6.1")("bt -f words equal crash 8.0.2's bt -f at every stack address both print", async () => {
    const dbg = await debugKernel(line);
    const text = await crashOutput(vmcore, dbg.vmlinux, ["bt -f"]);
    const crash = new Map<string, string>();
    for (const m of text.matchAll(/^    ([0-9a-f]{16}): ((?:[0-9a-f]{16} )+)$/gm))
      m[2]!.trim().split(" ").forEach((w, i) => crash.set("0x" + (BigInt("0x" + m[1]) + BigInt(8 * i)).toString(16).padStart(16, "0"), "0x" + w));
    const t = (JSON.parse(analyze(vmcore, "bt", { json: true, args: ["-f"] }) as string) as { tasks: BtTask[] }).tasks[0]!;
    let compared = 0;
    for (const f of t.frames.filter((f) => f.words))
      f.words!.values.forEach((v, i) => {
        const at = "0x" + (BigInt(f.words!.from) + BigInt(8 * i)).toString(16).padStart(16, "0");
        if (!crash.has(at)) return;
        expect({ at, v }).toEqual({ at, v: crash.get(at)! });
        compared++;
      });
    expect(compared).toBeGreaterThan(40);
  }, LAB);
});
