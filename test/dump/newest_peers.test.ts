// The newest peers (Debian sid: kexec-tools 2.0.32's vmcore-dmesg, drgn 0.3.0, makedumpfile 1.7.8, crash 9.0.2, run in
// the lab's sid root) on the sysrq crash of every kernel line, and what each gets right or wrong (README: "Kernel
// lines"). Matrix only: the sid root is a ~2-12 minute debootstrap and the -dbg vmlinux a 350 MB download.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { tmpdir } from "node:os";
import { analyze } from "../../lib/analyze/command.ts";
import { collect, formatCollect } from "../../lib/collect/collect.ts";
import { inSid } from "../../lib/lab/sid_root.ts";
import { MATRIX } from "../_matrix.ts";
import { debugKernel } from "../kernel/_images.ts";
import { oopsDump } from "../analyze/_oops.ts";
import { sidDrgnJson, sidVmcoreDmesg } from "../kernel/_sid.ts";
import { expectBytes, LINES, NEW_LINES, sysrqDump } from "./_peers.ts";

const LAB = 1_200_000;
const ALL = [...NEW_LINES, ...LINES];

/** makedumpfile 1.7.8 -c -d 31 of `vmcore` into `dir`; its path. */
async function makedumpfile178(vmcore: string, dir: string): Promise<string> {
  const r = await inSid(["makedumpfile", "-c", "-d", "31", `/host/dump/${basename(vmcore)}`, "/host/out/vmcore.mdf"], { [dirname(vmcore)]: "/host/dump", [dir]: "/host/out" });
  if (r.exitCode !== 0) throw new Error(`makedumpfile 1.7.8 failed: ${r.stderr.slice(-400)}`);
  return join(dir, "vmcore.mdf");
}

/** crash 9.0.2's answer to `sys` on `file` with the -dbg vmlinux (stdout and stderr together). */
async function crash902(vmlinux: string, file: string): Promise<string> {
  const r = await inSid(["sh", "-c", `printf 'sys\\nquit\\n' | crash -s /host/vmlinux/${basename(vmlinux)} /host/dump/${basename(file)} 2>&1`], { [dirname(vmlinux)]: "/host/vmlinux", [dirname(file)]: "/host/dump" });
  return r.stdout.toString();
}

describe.skipIf(!MATRIX).each(ALL)("the newest peers on a %s sysrq crash", (line) => {
  test("log equals kexec-tools 2.0.32's vmcore-dmesg byte for byte", async () => {
    const { vmcore } = await sysrqDump(line);
    expectBytes(analyze(vmcore, "log"), await sidVmcoreDmesg(vmcore));
  }, LAB);

  test("collect -d 31 (zlib) is at most 1.02x makedumpfile 1.7.8 -c -d 31; crash 9.0.2 opens ours wherever it opens makedumpfile's", async () => {
    const { vmcore } = await sysrqDump(line);
    const dir = mkdtempSync(join(tmpdir(), "peers-"));
    try {
      const r = await collect({ from: vmcore, out: dir, host: "lab", level: 31, compress: "zlib", progress: () => {} });
      const ours = join(dir, readdirSync(dir).find((d) => d.startsWith("lab-"))!, "vmcore");
      const mdf = await makedumpfile178(vmcore, dir);
      expect(statSync(ours).size / statSync(mdf).size, formatCollect(r)).toBeLessThanOrEqual(1.02);
      const dbg = await debugKernel(line);
      const opens = (out: string) => /RELEASE: \S+/.test(out) && !/invalid structure member offset/.test(out);
      const [a, b] = [await crash902(dbg.vmlinux, ours), await crash902(dbg.vmlinux, mdf)];
      if (opens(b)) expect(opens(a), a.slice(-600)).toBe(true);
      // crash 9.0.2 cannot open any 7.x dump: "invalid structure member offset: module_num_gpl_syms" (struct module moved on)
      if (line === "newest") expect([a, b].map((o) => /module_num_gpl_syms/.test(o))).toEqual([true, true]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, LAB);

  test("ps equals drgn 0.3.0's task list with the -dbg vmlinux", async () => {
    const { vmcore } = await sysrqDump(line);
    const dbg = await debugKernel(line);
    const want = await sidDrgnJson<[number, string, number][]>(dbg.vmlinux, vmcore, "print(json.dumps(sorted([[t.pid.value_(), t.comm.string_().decode(), t.real_parent.pid.value_()] for t in for_each_task(prog)])))");
    const rows = (JSON.parse(analyze(vmcore, "ps", { json: true })) as { tasks: { pid: number; comm: string; ppid: number }[] }).tasks;
    expect(rows.filter((r) => r.pid !== 0).map((r) => [r.pid, r.comm, r.ppid]).sort((x, y) => (x[0] as number) - (y[0] as number))).toEqual(want.filter((t) => t[0] !== 0));
  }, LAB);
});

// the other crash of issue 14's Done-when: an oops in a module's init (its bt and mod: kernel_lines.test.ts and the
// 6.1/6.12 oops tests); here its log and its task list against the same peers
describe.skipIf(!MATRIX).each(ALL)("the newest peers on a %s oops in a module's init", (line) => {
  test("log equals kexec-tools 2.0.32's vmcore-dmesg byte for byte", async () => {
    const { vmcore } = await oopsDump(line, "init");
    expectBytes(analyze(vmcore, "log"), await sidVmcoreDmesg(vmcore));
  }, LAB);

  test("ps equals drgn 0.3.0's task list with the -dbg vmlinux", async () => {
    const { vmcore } = await oopsDump(line, "init");
    const dbg = await debugKernel(line);
    const want = await sidDrgnJson<[number, string, number][]>(dbg.vmlinux, vmcore, "print(json.dumps(sorted([[t.pid.value_(), t.comm.string_().decode(), t.real_parent.pid.value_()] for t in for_each_task(prog)])))");
    const rows = (JSON.parse(analyze(vmcore, "ps", { json: true })) as { tasks: { pid: number; comm: string; ppid: number }[] }).tasks;
    expect(rows.filter((r) => r.pid !== 0).map((r) => [r.pid, r.comm, r.ppid]).sort((x, y) => (x[0] as number) - (y[0] as number))).toEqual(want.filter((t) => t[0] !== 0));
  }, LAB);
});
