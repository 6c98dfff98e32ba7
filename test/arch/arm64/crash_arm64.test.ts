// Debian's crash is built for its host architecture only: sid's arm64 crash 9.0.2, run on this x86_64 host under
// qemu-user (`qemu-aarch64 -L <sysroot>`, lib/lab/peers.ts arm64Crash), opens our kdump-compressed arm64 output
// with the arm64 -dbg vmlinux exactly as far as it opens the ELF dump kexec-tools captured, and where it opens it,
// its sys, bt and ps are ours. Matrix only: crash loads the 400 MB -dbg vmlinux's DWARF under emulation, 8-10 min
// of CPU per run (10-30 min on this loaded 2-CPU host).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { analyze } from "../../../lib/analyze/command.ts";
import { collect } from "../../../lib/collect/collect.ts";
import { openDump } from "../../../lib/dump/open.ts";
import { arm64Crash } from "../../../lib/lab/peers.ts";
import { MATRIX } from "../../_matrix.ts";
import { debugKernel } from "../../kernel/_images.ts";
import { fetchKernel } from "../../../lib/lab/kernels.ts";
import { guestCopy, runGuest } from "../../../lib/lab/qemu.ts";
import { printed } from "../../lab/_console.ts";
import { arm64SysrqDump } from "./_dumps.ts";

const LAB = 5_400_000; // the dump (cached, else an arm64 guest boot) plus two crash runs of 10-30 min under qemu-aarch64

/** crash's batch output for `commands` on `dump` with `vmlinux`, run by qemu-aarch64 in the arm64 crash sysroot. */
async function arm64CrashRun(vmlinux: string, dump: string, commands: string[], dir: string): Promise<string> {
  const { root, crash } = await arm64Crash();
  const cmds = join(dir, "crash.cmds");
  writeFileSync(cmds, [...commands, "exit"].join("\n") + "\n");
  // one stream, in crash's order: its fatal `crash: …` line goes to stderr
  const p = Bun.spawn(["sh", "-c", 'exec qemu-aarch64 -L "$1" "$2" -s "$3" "$4" -i "$5" < /dev/null 2>&1', "sh", root, crash, vmlinux, dump, cmds], { stdout: "pipe" });
  const out = await new Response(p.stdout).text();
  await p.exited;
  return out;
}

/** The function names of crash's `bt` frames (` #3 [sp] func at pc`), in order. */
function crashBtFunctions(out: string): string[] {
  return crashBtFrames(out).map((f) => f.function);
}

/** crash's `bt` frames (` #3 [sp] func at pc`), in order (the first task's, when it printed more). */
function crashBtFrames(out: string): { function: string; pc: bigint }[] {
  const frames: { function: string; pc: bigint }[] = [];
  for (const m of out.matchAll(/^\s*#(\d+) \[[0-9a-f]+\] (\S+) at ([0-9a-f]+)/gm)) {
    if (m[1] === "0" && frames.length) break;
    frames.push({ function: m[2]!, pc: BigInt(`0x${m[3]}`) });
  }
  return frames;
}

/** [pid, ppid, comm] of crash's `ps` rows (kernel threads' `[comm]` without the brackets). */
function crashPs(out: string): [number, number, string][] {
  const rows = [...out.matchAll(/^[> ]\s*(\d+)\s+(\d+)\s+(\d+)\s+[0-9a-f]{16}\s+[A-Z]{2}\s+[\d.]+\s+\d+\s+\d+\s+(.+)$/gm)];
  return rows.map((m) => [Number(m[1]), Number(m[2]), m[4]!.trim().replace(/^\[(.*)\]$/, "$1")]);
}

/** The `KEY: value` lines of crash's `sys`. */
function crashSys(out: string): Map<string, string> {
  return new Map([...out.matchAll(/^\s{0,12}([A-Z]+): (.+)$/gm)].map((m) => [m[1]!, m[2]!.trim()]));
}

/**
 * crash's output with the line naming the dump file taken out, so runs on two files compare; cut after a fatal
 * `crash: ` line (one run on 7.2 then printed the host procps' `ps` usage too, the other did not).
 */
function normalized(out: string): string {
  const fatal = out.match(/^crash: .*$/m);
  const upTo = fatal ? out.slice(0, fatal.index! + fatal[0].length) : out;
  return upTo.replace(/^\s*DUMPFILE: .*$/gm, "").trim();
}

describe.if(MATRIX).each(["newest", "6.12"])("sid's arm64 crash 9.0.2 under qemu-aarch64 on our kdump-compressed arm64 %s output", (line) => {
  let dir: string;
  let saved: string;
  let out: string;
  let elf: string;
  beforeAll(async () => {
    const dump = await arm64SysrqDump(line);
    dir = mkdtempSync(join(tmpdir(), "arm64-crash-"));
    await collect({ from: dump.vmcore, out: dir, host: "lab", level: 31, progress: () => {} });
    saved = join(dir, readdirSync(dir).find((d) => d.startsWith("lab-"))!, "vmcore");
    const d = openDump(saved);
    expect([d.format, d.machine]).toEqual(["kdump", "aarch64"]);
    d.close();
    const vmlinux = (await debugKernel(line, "arm64")).vmlinux;
    out = await arm64CrashRun(vmlinux, saved, ["sys", "bt", "ps"], dir);
    elf = await arm64CrashRun(vmlinux, dump.vmcore, ["sys", "bt", "ps"], dir);
  }, LAB);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("crash prints the same on ours as on the ELF dump kexec-tools captured", () => {
    expect(normalized(out).length).toBeGreaterThan(20);
    expect(normalized(out)).toEqual(normalized(elf));
  });

  // Measured 2026-12-01 on 7.2 and 6.12 (52-bit VA, LPA2, KASLR): crash 9.0.2 stops before its prompt on both
  // files alike, "WARNING: cannot access vmalloc'd module memory" then "crash: invalid kernel virtual address:
  // ffff800080538000 type: "64-bit KVADDR"" (a vmalloc address). Where it opens the dump, sys/bt/ps must be ours.
  test("crash opens it with our sys, bt and ps, or stops on a vmalloc address as on the ELF dump", () => {
    if (!crashSys(out).has("RELEASE")) {
      expect(out).toMatch(/invalid kernel virtual address: ffff8000[0-9a-f]{8}/);
      return;
    }
    const sys = crashSys(out);
    const oursSys = crashSys(analyze(saved, "sys"));
    for (const k of ["RELEASE", "CPUS", "NODENAME", "PANIC"]) expect([k, sys.get(k)]).toEqual([k, oursSys.get(k)]);
    const bt = JSON.parse(analyze(saved, "bt", { json: true })) as { tasks: { panic: boolean; frames: { function?: string }[] }[] };
    expect(crashBtFunctions(out)).toEqual(bt.tasks.find((t) => t.panic)!.frames.map((f) => f.function ?? "?"));
    const rows = (JSON.parse(analyze(saved, "ps", { json: true })) as { tasks: { pid: number; ppid: number; comm: string }[] }).tasks;
    const ours = rows.filter((r) => r.pid !== 0).map((r): [number, number, string] => [r.pid, r.ppid, r.comm]).sort((a, b) => a[0] - b[0]);
    expect(crashPs(out).filter((t) => t[0] !== 0).sort((a, b) => a[0] - b[0])).toEqual(ours);
  });
});

// Debian's 6.1 arm64 kernel is a 48-bit VA kernel, and kexec-tools cannot capture it in QEMU (see the README), so the
// dump comes from our own pipeline in a guest: load, `trigger --yes`, our collector's default output (kdump-compressed,
// zstd, -d 31). Measured 2026-12-02: crash 9.0.2 (arm64, under qemu-aarch64, 7 min) opens it and prints sys, bt, ps.
describe.if(MATRIX)("sid's arm64 crash 9.0.2 under qemu-aarch64 on our own 6.1 capture (matrix)", () => {
  let dir: string;
  let saved: string;
  let out: string;
  let systemMap: string;
  beforeAll(async () => {
    const dbg = await debugKernel("6.1", "arm64");
    systemMap = dbg.systemMap;
    const job = `
if [ "$LAB_BOOT" = 1 ]; then
  kdump load; echo "RC-LOAD=$?"
  kdump trigger --yes; echo "LAB-ERROR trigger returned $?"; sleep 10; exit 98
fi
for f in /var/crash/*/vmcore; do echo "SEEN=$f"; done
`;
    const r = await runGuest({ kernel: await fetchKernel("6.1", "arm64"), job, cmdline: "crashkernel=256M", cpus: 2, memoryMiB: 1024, boots: 2, timeoutSeconds: 2400 });
    dir = mkdtempSync(join(tmpdir(), "arm64-crash-61-"));
    saved = join(dir, "vmcore");
    try {
      const seen = printed(r, "SEEN");
      expect(seen, r.console.slice(-3000)).toMatch(/^\/var\/crash\/.*\/vmcore$/);
      await guestCopy(r.rootImage, seen!, saved);
    } finally {
      r.cleanup();
    }
    out = await arm64CrashRun(dbg.vmlinux, saved, ["sys", "bt", "ps"], dir);
  }, LAB);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("crash opens our kdump-compressed output: its sys says what ours says", () => {
    const d = openDump(saved);
    expect([d.format, d.machine]).toEqual(["kdump", "aarch64"]);
    d.close();
    const sys = crashSys(out);
    expect(sys.get("RELEASE"), out.slice(0, 3000)).toBe("6.1.0-57-cloud-arm64");
    const ours = crashSys(analyze(saved, "sys", { systemMap }));
    for (const k of ["RELEASE", "CPUS", "NODENAME", "MACHINE"]) expect([k, sys.get(k)?.replace(/\s+\(.*\)$/, "")]).toEqual([k, ours.get(k)]);
    // crash quotes the whole panic line, ours its message
    expect(sys.get("PANIC")).toContain(ours.get("PANIC")!.replace(/^"|"$/g, ""));
  });

  test("crash's bt is ours frame for frame: each pc is our return address - 4 (the call), the same functions", () => {
    const theirs = crashBtFrames(out);
    const bt = JSON.parse(analyze(saved, "bt", { json: true, systemMap })) as { tasks: { panic: boolean; frames: { function?: string; address: string }[] }[] };
    const ours = bt.tasks.find((t) => t.panic)!.frames;
    expect(theirs.length, out).toBeGreaterThan(8);
    expect(theirs.map((f) => f.pc + 4n)).toEqual(ours.map((f) => BigInt(f.address)));
    // where a function ends in a call of the noreturn panic(), crash names the caller (by pc - 4) and ours, like the
    // kernel's own Call trace, the function after it
    const differ = theirs.flatMap((f, i) => (f.function === ours[i]!.function ? [] : [[f.function, ours[i]!.function]]));
    expect(differ).toEqual([["sysrq_handle_crash", "sysrq_reset_seq_param_set"]]);
  });

  test("crash's ps lists our tasks (pid, ppid, comm)", () => {
    const rows = (JSON.parse(analyze(saved, "ps", { json: true, systemMap })) as { tasks: { pid: number; ppid: number; comm: string }[] }).tasks;
    const ours = rows.filter((r) => r.pid !== 0).map((r): [number, number, string] => [r.pid, r.ppid, r.comm]).sort((a, b) => a[0] - b[0]);
    const theirs = crashPs(out).filter((t) => t[0] !== 0).sort((a, b) => a[0] - b[0]);
    expect(theirs.length).toBeGreaterThan(40);
    expect(theirs).toEqual(ours);
  });
});
