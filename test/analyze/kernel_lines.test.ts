// The new kernel lines of issue 14 on real sysrq crashes, no debuginfo: bullseye's 5.10 and sid's newest (7.x, read
// from the sid lists at fetch time). The log equals vmcore-dmesg byte for byte, bt lists the kernel's own printed
// Call Trace in order, mod lists the modules the guest loaded, and ps has each CPU's running task. Under
// KDUMP_MATRIX the newest peers (sid's kexec-tools, drgn with the -dbg vmlinux) are the oracles as well.
import { beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { analyze } from "../../lib/analyze/command.ts";
import { collect } from "../../lib/collect/collect.ts";
import { openDump } from "../../lib/dump/open.ts";
import { openKernel } from "../../lib/kernel/open.ts";
import { KernelProgram } from "../../lib/kernel/program.ts";
import { checkOrcLayout } from "../../lib/arch/x86_64/orc.ts";
import { BadDataError } from "../../lib/errors.ts";
import { virtioModules } from "../../lib/lab/bootinitrd.ts";
import type { LabDump } from "../lab/dumps.ts";
import { MATRIX } from "../_matrix.ts";
import { expectBytes, NEW_LINES, sysrqDump, vmcoreDmesg } from "../dump/_peers.ts";
import { kernelCallTrace, modulesLinkedIn, sameTrace } from "./_calltrace.ts";
import { oopsDump } from "./_oops.ts";
import { sidDrgnJson, sidVmcoreDmesg } from "../kernel/_sid.ts";
import { debugKernel } from "../kernel/_images.ts";

const LAB = 900_000; // building a lab dump boots QEMU

describe.each(NEW_LINES)("analysis of a %s sysrq crash", (line) => {
  let dump: LabDump;
  beforeAll(async () => {
    dump = await sysrqDump(line);
  }, LAB);

  test("log equals vmcore-dmesg (kexec-tools 2.0.25) byte for byte", async () => {
    const peer = await vmcoreDmesg(dump.vmcore);
    expect(peer.length).toBeGreaterThan(10_000);
    expectBytes(analyze(dump.vmcore, "log"), peer);
  }, LAB);

  test("bt of the panic lists the functions of the kernel's printed Call Trace, in order", () => {
    const json = JSON.parse(analyze(dump.vmcore, "bt", { json: true })) as { tasks: { panic: boolean; frames: { function?: string; module?: string }[] }[] };
    const ours = json.tasks.find((t) => t.panic)!.frames.map((f: { function?: string; module?: string }) => (f.module ? `${f.function} [${f.module}]` : (f.function ?? "?")));
    const kernel = kernelCallTrace(dump.vmcore);
    expect(kernel).toContain("sysrq_handle_crash");
    expect(sameTrace(ours, kernel), `ours: ${ours.join(" ")}\nkernel: ${kernel.join(" ")}`).toMatchObject({ ok: true });
  });

  test("mod lists the modules the guest's boot initramfs loaded", async () => {
    const loaded = (await virtioModules(dump.kernel)).map(([f]) => f.replace(/\.ko$/, ""));
    const rows = (JSON.parse(analyze(dump.vmcore, "mod", { json: true })) as { modules: { name: string }[] }).modules;
    expect(rows.map((r) => r.name).sort()).toEqual(loaded.sort());
  });

  test("ps marks one running task per CPU and the crashing shell", () => {
    const rows = (JSON.parse(analyze(dump.vmcore, "ps", { json: true })) as { tasks: { pid: number; comm: string; active?: boolean }[] }).tasks;
    expect(rows.length).toBeGreaterThan(30);
    expect(rows.some((r) => r.comm === "sh" && r.active)).toBe(true);
    expect(rows.find((r) => r.pid === 1)?.comm).toBe("init");
  });

  test("bt, ps and mod from our collect -d 31 equal those from the ELF dump (5.10: kallsyms found by scanning past dropped pages)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lines-"));
    try {
      await collect({ from: dump.vmcore, out: dir, host: "lab", level: 31, compress: "zlib", progress: () => {} });
      const saved = join(dir, readdirSync(dir).find((d) => d.startsWith("lab-"))!, "vmcore");
      for (const c of ["bt", "ps", "mod"]) expect([c, analyze(saved, c)]).toEqual([c, analyze(dump.vmcore, c)]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, LAB);

  test.skipIf(!MATRIX)("ps equals drgn 0.3.0's task list with the -dbg vmlinux (pid, comm, ppid)", async () => {
    const dbg = await debugKernel(line);
    const want = await sidDrgnJson<[number, string, number][]>(
      dbg.vmlinux,
      dump.vmcore,
      "print(json.dumps(sorted([[t.pid.value_(), t.comm.string_().decode(), t.real_parent.pid.value_()] for t in for_each_task(prog)])))",
    );
    const rows = (JSON.parse(analyze(dump.vmcore, "ps", { json: true })) as { tasks: { pid: number; comm: string; ppid: number }[] }).tasks;
    const ours = rows.filter((r) => r.pid !== 0).map((r) => [r.pid, r.comm, r.ppid]).sort((a, b) => (a[0] as number) - (b[0] as number));
    expect(ours).toEqual(want.filter((t) => t[0] !== 0));
  }, LAB);

  test.skipIf(!MATRIX)("log equals the newest vmcore-dmesg (sid's kexec-tools) byte for byte", async () => {
    expectBytes(analyze(dump.vmcore, "log"), await sidVmcoreDmesg(dump.vmcore));
  }, LAB);
});

describe.skipIf(!MATRIX).each(NEW_LINES)("analysis of a %s oops in a module's init (matrix)", (line) => {
  test("bt lists the kernel's printed Call Trace with the module's frames as func [oops]; mod equals Modules linked in", async () => {
    const { vmcore } = await oopsDump(line, "init");
    const json = JSON.parse(analyze(vmcore, "bt", { json: true })) as { tasks: { panic: boolean; frames: { function?: string; module?: string }[] }[] };
    const ours = json.tasks.find((t) => t.panic)!.frames.map((f) => (f.module ? `${f.function} [${f.module}]` : (f.function ?? "?")));
    const kernel = kernelCallTrace(vmcore);
    expect(kernel.some((f) => f.endsWith("[oops]"))).toBe(true);
    expect(sameTrace(ours, kernel), `ours: ${ours.join(" ")}\nkernel: ${kernel.join(" ")}`).toMatchObject({ ok: true });
    const rows = (JSON.parse(analyze(vmcore, "mod", { json: true })) as { modules: { name: string }[] }).modules;
    expect(rows.map((r) => r.name)).toEqual(modulesLinkedIn(vmcore));
  }, LAB);
});

describe("what differs on the newest line", () => {
  let prog: KernelProgram;
  beforeAll(async () => {
    prog = new KernelProgram(openKernel(openDump((await sysrqDump("newest")).vmcore)));
  }, LAB);

  test("VMCOREINFO has the kallsyms tables but no kallsyms_relative_base; place-relative offsets reproduce _stext", () => {
    const info = prog.view.info;
    expect(Number(info.osrelease.split(".")[0])).toBeGreaterThanOrEqual(7);
    expect(info.symbols.has("kallsyms_offsets")).toBe(true);
    expect(info.symbols.has("kallsyms_relative_base")).toBe(false);
    expect(prog.symbols.encoding).toBe("place-relative");
    expect(prog.symbols.lookup("_stext")).toBe(info.symbol("_stext"));
  });

  test("the ORC table's function entries are in the 7.1 layout (SP renumbered to 3)", () => {
    expect(prog.orc.layout).toBe("7.1");
  });

  test("checkOrcLayout() refuses a table whose entries are not in its release's layout, naming both", async () => {
    const entries = (p: KernelProgram) => p.readBulk(p.symbols.require("__start_orc_unwind"), 8192 * 6);
    const release = prog.view.info.osrelease;
    expect(checkOrcLayout(entries(prog), "7.1", release)).toBe("7.1");
    expect(() => checkOrcLayout(entries(prog), "6.4", release)).toThrow(/implies the 6.4 orc_entry layout, but its entries are in the 7.1 one \(function entries read flags 0x203\)/);
    const old = new KernelProgram(openKernel(openDump((await sysrqDump("5.10")).vmcore)));
    expect(() => checkOrcLayout(entries(old), "7.1", "7.1.0-backport")).toThrow(BadDataError);
    expect(checkOrcLayout(entries(old), "4.14", old.view.info.osrelease)).toBe("4.14");
    expect(() => checkOrcLayout(new Uint8Array(6 * 100), "6.4", "x")).toThrow(/match no known orc_entry layout/);
  }, LAB);
});
