// Analysis of a real arm64 crash with no debuginfo: Debian's newest (7.x) arm64 cloud kernel, sysrq-c in
// qemu-system-aarch64 -machine virt -cpu max,sve=off,sme=off (TCG: 52-bit VA with LPA2, pointer authentication, KASLR), captured by
// kexec-tools 2.0.32's kexec_load and a busybox dd. The oracles: the kernel's own printed Call trace, sid's
// vmcore-dmesg (kexec-tools 2.0.32) and drgn 0.3.0 with the arm64 -dbg vmlinux.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { analyze } from "../../../lib/analyze/command.ts";
import { collect } from "../../../lib/collect/collect.ts";
import { openDump } from "../../../lib/dump/open.ts";
import { openKernel } from "../../../lib/kernel/open.ts";
import { KernelProgram } from "../../../lib/kernel/program.ts";
import { virtioModules } from "../../../lib/lab/bootinitrd.ts";
import { MATRIX } from "../../_matrix.ts";
import { kernelCallTrace, sameTrace } from "../../analyze/_calltrace.ts";
import { expectBytes } from "../../dump/_peers.ts";
import { debugKernel } from "../../kernel/_images.ts";
import { sidDrgnJson, sidVmcoreDmesg } from "../../kernel/_sid.ts";
import type { LabDump } from "../../lab/dumps.ts";
import { arm64SysrqDump } from "./_dumps.ts";

const LAB = 1_800_000; // building the dump boots an arm64 guest under TCG (~5–10 min on a loaded host)

/** The default npm test analyzes the newest line's dump (its one arm64 boot); the matrix adds 6.12. */
const LINES = MATRIX ? ["newest", "6.12"] : ["newest"];

describe.each(LINES)("analysis of an arm64 %s sysrq crash", (line) => {
  let dump: LabDump;
  let prog: KernelProgram;
  beforeAll(async () => {
    dump = await arm64SysrqDump(line);
    prog = new KernelProgram(openKernel(openDump(dump.vmcore)));
  }, LAB);

  test("the dump is AArch64 and VMCOREINFO carries the arm64 translation keys", () => {
    const d = openDump(dump.vmcore);
    expect(d.machine).toBe("aarch64");
    const info = prog.view.info;
    for (const k of ["VA_BITS", "kimage_voffset", "PHYS_OFFSET", "KERNELPACMASK", "TCR_EL1_T1SZ"]) expect([k, info.numbers.has(k)]).toEqual([k, true]);
    expect(info.symbols.has("swapper_pg_dir")).toBe(true);
  });

  test("kallsyms read from memory reproduce VMCOREINFO's _stext and the KASLR'd symbols", () => {
    expect(prog.symbols.lookup("_stext")).toBe(prog.view.info.symbol("_stext"));
    expect(prog.symbols.lookup("swapper_pg_dir")).toBe(prog.view.info.symbol("swapper_pg_dir"));
    expect(prog.view.cstring(prog.symbols.require("linux_banner"), 200)).toStartWith(`Linux version ${prog.view.info.osrelease} `);
  });

  test("log equals sid's vmcore-dmesg (kexec-tools 2.0.32) byte for byte", async () => {
    const peer = await sidVmcoreDmesg(dump.vmcore);
    expect(peer.length).toBeGreaterThan(10_000);
    expectBytes(analyze(dump.vmcore, "log"), peer);
  }, LAB);

  test("bt of the panic lists the functions of the kernel's printed Call trace, in order", () => {
    const json = JSON.parse(analyze(dump.vmcore, "bt", { json: true })) as { tasks: { panic: boolean; frames: { function?: string; module?: string }[] }[] };
    const ours = json.tasks.find((t) => t.panic)!.frames.map((f) => (f.module ? `${f.function} [${f.module}]` : (f.function ?? "?")));
    const kernel = kernelCallTrace(dump.vmcore);
    expect(kernel).toContain("sysrq_handle_crash");
    expect(kernel.at(-1)).toBe("el0t_64_sync");
    expect(ours.at(-1)).toBe("el0t_64_sync");
    expect(sameTrace(ours, kernel), `ours: ${ours.join(" ")}\nkernel: ${kernel.join(" ")}`).toMatchObject({ ok: true });
  });

  test("bt -a traces the other CPU, taken offline by the crash stop, from its saved registers to its idle loop's start", () => {
    const json = JSON.parse(analyze(dump.vmcore, "bt", { json: true, args: ["-a"] })) as { tasks: { panic: boolean; error?: string; frames: { function?: string }[] }[] };
    expect(json.tasks.length).toBe(2);
    const other = json.tasks.find((t) => !t.panic)!;
    expect(other.error).toBeUndefined();
    expect(other.frames.map((f) => f.function)).toContain("do_idle");
    expect(["__secondary_switched", "__primary_switched"]).toContain(other.frames.at(-1)!.function!); // the boot CPU starts in the latter
  });

  test("bt of every sleeping task unwinds its saved cpu_context to the end of its stack without an error", () => {
    const rows = (JSON.parse(analyze(dump.vmcore, "ps", { json: true })) as { tasks: { pid: number; active?: boolean }[] }).tasks;
    const pids = rows.filter((r) => r.pid > 0 && !r.active).map((r) => String(r.pid));
    const json = JSON.parse(analyze(dump.vmcore, "bt", { json: true, args: pids })) as { tasks: { pid: number; error?: string; frames: { function?: string }[] }[] };
    expect(json.tasks.length).toBe(pids.length);
    const bad = json.tasks.filter((t) => t.error || t.frames.length < 3).map((t) => `${t.pid}: ${t.error ?? t.frames.map((f) => f.function).join(" ")}`);
    expect(bad).toEqual([]);
    // kernel threads end in ret_from_fork, user tasks in the EL0 entry
    for (const t of json.tasks) expect(["ret_from_fork", "el0t_64_sync", "el0t_64_irq"]).toContain(t.frames.at(-1)?.function ?? "?");
  });

  test("mod lists the modules the guest's boot initramfs loaded", async () => {
    const loaded = (await virtioModules(dump.kernel)).map(([f]) => f.replace(/\.ko$/, ""));
    const rows = (JSON.parse(analyze(dump.vmcore, "mod", { json: true })) as { modules: { name: string }[] }).modules;
    expect(rows.map((r) => r.name).sort()).toEqual(loaded.sort());
  });

  test("sys names the machine and release", () => {
    const out = analyze(dump.vmcore, "sys");
    expect(out).toContain("aarch64");
    expect(out).toContain(prog.view.info.osrelease);
  });

  test.skipIf(!MATRIX)("ps equals drgn 0.3.0's task list with the arm64 -dbg vmlinux (pid, comm, ppid)", async () => {
    const dbg = await debugKernel(line, "arm64");
    const want = await sidDrgnJson<[number, string, number][]>(
      dbg.vmlinux,
      dump.vmcore,
      "print(json.dumps(sorted([[t.pid.value_(), t.comm.string_().decode(), t.real_parent.pid.value_()] for t in for_each_task(prog)])))",
    );
    const rows = (JSON.parse(analyze(dump.vmcore, "ps", { json: true })) as { tasks: { pid: number; comm: string; ppid: number }[] }).tasks;
    const ours = rows.filter((r) => r.pid !== 0).map((r) => [r.pid, r.comm, r.ppid]).sort((a, b) => (a[0] as number) - (b[0] as number));
    expect(ours).toEqual(want.filter((t) => t[0] !== 0));
  }, LAB);
});

describe.each(LINES)("kdump collect of the arm64 %s dump", (line) => {
  let dump: LabDump;
  let dir: string;
  let saved: string;
  beforeAll(async () => {
    dump = await arm64SysrqDump(line);
    dir = mkdtempSync(join(tmpdir(), "arm64-collect-"));
    await collect({ from: dump.vmcore, out: dir, host: "lab", level: 31, compress: "zlib", progress: () => {} });
    saved = join(dir, readdirSync(dir).find((d) => d.startsWith("lab-"))!, "vmcore");
  }, LAB);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("collect -d 31 writes a kdump-compressed aarch64 dump, smaller, whose bt, ps and mod equal the ELF dump's", () => {
    const d = openDump(saved);
    expect(d.format).toBe("kdump");
    expect(d.machine).toBe("aarch64");
    expect(statSync(saved).size).toBeLessThan(statSync(dump.vmcore).size / 4);
    d.close();
    for (const c of ["bt", "ps", "mod", "log"]) expect([c, analyze(saved, c)]).toEqual([c, analyze(dump.vmcore, c)]);
  }, LAB);

  test.skipIf(!MATRIX)("drgn 0.3.0 reads our kdump-compressed arm64 output: its task list and the panic thread's stack are ours", async () => {
    const dbg = await debugKernel(line, "arm64");
    const want = await sidDrgnJson<{ tasks: [number, string][]; stack: string[] }>(
      dbg.vmlinux,
      saved,
      [
        "tasks = sorted([[t.pid.value_(), t.comm.string_().decode()] for t in for_each_task(prog)])",
        "stack = [f.name for f in prog.crashed_thread().stack_trace() if f.name]",
        "print(json.dumps({'tasks': tasks, 'stack': stack}))",
      ].join("\n"),
    );
    const rows = (JSON.parse(analyze(saved, "ps", { json: true })) as { tasks: { pid: number; comm: string }[] }).tasks;
    expect(rows.filter((r) => r.pid !== 0).map((r) => [r.pid, r.comm]).sort((a, b) => (a[0] as number) - (b[0] as number))).toEqual(want.tasks.filter((t) => t[0] !== 0));
    const bt = JSON.parse(analyze(saved, "bt", { json: true })) as { tasks: { panic: boolean; frames: { function?: string }[] }[] };
    // kallsyms names GCC's clones (el0_svc_common.constprop.0), DWARF the function they clone
    const ours = bt.tasks.find((t) => t.panic)!.frames.map((f) => (f.function ?? "?").replace(/\.(constprop|isra|part|cold)\.\d+$/, ""));
    // drgn lists inlined functions too: every frame of ours must appear in its stack, in the same order
    expect(isSubsequence(ours, want.stack), `ours: ${ours.join(" ")}\ndrgn: ${want.stack.join(" ")}`).toBe(true);
  }, LAB);
});

/** True when every entry of `a` appears in `b`, in order (b may have more between them). */
function isSubsequence(a: string[], b: string[]): boolean {
  let at = 0;
  for (const x of a) {
    at = b.indexOf(x, at);
    if (at < 0) return false;
    at++;
  }
  return true;
}
