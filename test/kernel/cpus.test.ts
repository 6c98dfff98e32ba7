// CPUs at the crash on real lab dumps: the panicking CPU and its task are the ones the kernel named in its own
// panic or oops header ("CPU: 1 PID: 116 Comm: sh"); every NT_PRSTATUS note lands on a distinct online CPU.
import { describe, expect, test } from "bun:test";
import { logLines } from "../../lib/analyze/sys.ts";
import { openDump } from "../../lib/dump/open.ts";
import { cpuStates, panicCpu } from "../../lib/kernel/cpus.ts";
import { openKernel } from "../../lib/kernel/open.ts";
import { onlineCpus } from "../../lib/kernel/percpu.ts";
import { readPrintk } from "../../lib/kernel/printk.ts";
import { KernelProgram } from "../../lib/kernel/program.ts";
import { prstatus } from "../../lib/arch/x86_64/regs.ts";
import { readTask } from "../../lib/kernel/tasks.ts";
import { LINES, sysrqDump } from "../dump/_peers.ts";
import { oopsDump } from "../analyze/_oops.ts";

const LAB = 900_000; // building a lab dump boots QEMU

describe.each(LINES)("cpuStates on %s", (line) => {
  test.each(["sysrq", "timer"])("the panic CPU and task are those of the kernel's %s crash header", async (scenario) => {
    const vmcore = (scenario === "sysrq" ? await sysrqDump(line) : await oopsDump(line, "timer")).vmcore;
    const prog = new KernelProgram(openKernel(openDump(vmcore)));
    const header = logLines(readPrintk(prog.view)).findLast((l) => /^CPU: \d+ (UID: \d+ )?PID: \d+ Comm: /.test(l))!;
    const [, cpu, pid, comm] = /^CPU: (\d+) (?:UID: \d+ )?PID: (\d+) Comm: (\S+)/.exec(header)!;
    expect(panicCpu(prog)).toBe(Number(cpu));
    const states = cpuStates(prog);
    const p = states.find((s) => s.panic)!;
    const t = readTask(prog, p.task);
    expect([p.cpu, t.pid, t.comm]).toEqual([Number(cpu), Number(pid), comm!]);
    expect(states.map((s) => s.cpu)).toEqual(onlineCpus(prog));
    expect(states.length).toBe(prstatus(prog.view.dump).length);
  }, LAB);
});
