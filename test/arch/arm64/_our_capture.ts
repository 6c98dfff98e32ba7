// Our whole pipeline on arm64 in a guest (qemu-system-aarch64 -machine virt -cpu max,sve=off,sme=off, TCG,
// Debian's arm64 cloud kernels, which have no KEXEC_FILE; 1 GiB), for one crash: `kdump load` (our kexec_load, and
// panic_on_oops=1), then the crash (an oops in a module, or `kdump trigger --yes`'s sysrq); the capture kernel boots
// our initramfs, whose collector saves an ELF dump (kdump.conf `core_collector makedumpfile -E -d 31`, so that
// vmcore-dmesg reads it); the dump is copied out of the guest, and our analyze is checked against sid's
// vmcore-dmesg, the kernel's own printed Call trace and drgn 0.3.0 with the arm64 -dbg vmlinux. Debian's 6.1 arm64
// kernel is built without CONFIG_KALLSYMS_ALL: its kallsyms has function names only, so there bt and ps take the
// data symbols from the -dbg package's System.map (--system-map); without it they say so in one line.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { analyze } from "../../../lib/analyze/command.ts";
import { openDump } from "../../../lib/dump/open.ts";
import { fetchKernel } from "../../../lib/lab/kernels.ts";
import { guestCopy, runGuest, type GuestResult } from "../../../lib/lab/qemu.ts";
import { kernelCallTrace, sameTrace } from "../../analyze/_calltrace.ts";
import { expectBytes } from "../../dump/_peers.ts";
import { debugKernel } from "../../kernel/_images.ts";
import { sidDrgnJson, sidVmcoreDmesg } from "../../kernel/_sid.ts";
import { printed } from "../../lab/_console.ts";
import { arm64OopsModule } from "./_oops.ts";

const LAB = 3_000_000;

/** How the guest crashes, and what its log and the kernel's printed Call trace then show. */
interface Crash {
  /** The job's lines after `kdump load`. */
  job: string;
  files: (line: string) => Promise<Record<string, string | Uint8Array>>;
  /** The console shows these once the kernel crashed. */
  console: RegExp[];
  /** A word of vmcore-dmesg's output. */
  logWord: string;
  /** The kernel's printed Call trace: its first entry, and a later one. */
  traceFirst: RegExp;
  traceHas: string;
  /** A task drgn lists: the crashing command. */
  comm: string;
}

export const CRASHES: Record<"oops" | "sysrq", Crash> = {
  oops: {
    job: `insmod /lab/oops.ko; echo "LAB-ERROR insmod returned $?"; sleep 10; exit 98`,
    files: async (line) => ({ "/lab/oops.ko": await arm64OopsModule(line) }),
    // with panic_on_oops, arm64's die() starts the capture kernel itself (crash_kexec with the oops's registers)
    console: [/Unable to handle kernel NULL pointer dereference/, /Internal error: Oops: [0-9a-f]+ \[#1\]/],
    logWord: "oops_crash",
    traceFirst: /^oops_crash\S* \[oops\]$/,
    traceHas: "do_init_module",
    comm: "insmod",
  },
  sysrq: {
    job: `kdump trigger --yes; echo "LAB-ERROR trigger returned $?"; sleep 10; exit 98`,
    files: async () => ({}),
    console: [/sysrq: Trigger a crash/],
    logWord: "sysrq",
    traceFirst: /./,
    // not sysrq_handle_crash: it ends in a call of the noreturn panic(), so on 6.1 its return address (and the
    // kernel's own trace) names the function after it, sysrq_reset_seq_param_set
    traceHas: "write_sysrq_trigger",
    comm: "bun",
  },
};

/** The suite for one kernel line and crash: one guest boot (matrix: several minutes under TCG). */
export function ourCaptureSuite(line: string, kind: keyof typeof CRASHES): void {
  const c = CRASHES[kind];
  let r: GuestResult;
  let dir: string;
  let vmcore: string;
  /** 6.1: the -dbg System.map for the data symbols its kallsyms lacks. */
  let opts: { systemMap?: string } = {};
  beforeAll(async () => {
    if (line === "6.1") opts = { systemMap: (await debugKernel(line, "arm64")).systemMap };
    const kernel = await fetchKernel(line, "arm64");
    const job = `
if [ "$LAB_BOOT" = 1 ]; then
  kdump load; echo "RC-LOAD=$?"
  echo "PANIC-ON-OOPS=$(cat /proc/sys/kernel/panic_on_oops)"
  ${c.job}
fi
for f in /var/crash/*/vmcore; do echo "SEEN=$f"; done
`;
    const files = {
      ...(await c.files(line)),
      "/etc/kdump.conf": new TextEncoder().encode("path /var/crash\ncore_collector makedumpfile -E -d 31\n"),
    };
    r = await runGuest({ kernel, job, cmdline: "crashkernel=256M", cpus: 2, memoryMiB: 1024, boots: 2, timeoutSeconds: 2400, rootfs: { files } });
    console.log(`arm64 ${line} ${kind}: guest ran ${r.seconds.toFixed(0)} s`);
    dir = mkdtempSync(join(tmpdir(), `kdump-arm64-${kind}-`));
    vmcore = join(dir, "vmcore");
    const seen = printed(r, "SEEN");
    if (seen && !seen.includes("*")) await guestCopy(r.rootImage, seen, vmcore);
  }, LAB);
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    r?.cleanup();
  });

  test(`our load arms the capture, the ${kind} panics, and our collector saves an ELF dump the next boot sees`, () => {
    expect(printed(r, "RC-LOAD"), r.console.slice(-3000)).toBe("0");
    expect(printed(r, "PANIC-ON-OOPS")).toBe("1");
    for (const re of c.console) expect(r.console).toMatch(re);
    expect(r.console, r.console.slice(-3000)).toContain("kdump-capture: saved by the collector");
    expect(r.kernelBoots).toBe(3);
    expect(r.exits).toEqual([{ boot: 2, code: 0 }]);
    const d = openDump(vmcore);
    expect([d.format, d.machine]).toEqual(["elf", "aarch64"]);
    d.close();
    expect(statSync(vmcore).size).toBeGreaterThan(1 << 20);
  });

  test("log equals sid's vmcore-dmesg (kexec-tools 2.0.32) byte for byte", async () => {
    const peer = await sidVmcoreDmesg(vmcore);
    expect(peer.toString()).toContain(c.logWord);
    expectBytes(analyze(vmcore, "log"), peer);
  }, LAB);

  test("bt of the panic lists the functions of the kernel's printed Call trace, in order, module frames as func [module]", () => {
    const json = JSON.parse(analyze(vmcore, "bt", { json: true, ...opts })) as { tasks: { panic: boolean; frames: { function?: string; module?: string }[] }[] };
    const ours = json.tasks.find((t) => t.panic)!.frames.map((f) => (f.module ? `${f.function} [${f.module}]` : (f.function ?? "?")));
    const kernel = kernelCallTrace(vmcore);
    expect(kernel[0]).toMatch(c.traceFirst);
    expect(kernel).toContain(c.traceHas);
    expect(sameTrace(ours, kernel), `ours: ${ours.join(" ")}\nkernel: ${kernel.join(" ")}`).toMatchObject({ ok: true });
  });

  test.if(line === "6.1")("without --system-map, bt on 6.1 says in one line that its kallsyms holds function names only and what to give", () => {
    expect(() => analyze(vmcore, "bt")).toThrow(/kallsyms holds function names only \(built without CONFIG_KALLSYMS_ALL/);
  });

  test("ps equals drgn 0.3.0's task list with the arm64 -dbg vmlinux (pid, comm, ppid)", async () => {
    const dbg = await debugKernel(line, "arm64");
    const want = await sidDrgnJson<[number, string, number][]>(
      dbg.vmlinux,
      vmcore,
      "print(json.dumps(sorted([[t.pid.value_(), t.comm.string_().decode(), t.real_parent.pid.value_()] for t in for_each_task(prog)])))",
    );
    const rows = (JSON.parse(analyze(vmcore, "ps", { json: true, ...opts })) as { tasks: { pid: number; comm: string; ppid: number }[] }).tasks;
    const ours = rows.filter((t) => t.pid !== 0).map((t) => [t.pid, t.comm, t.ppid]).sort((a, b) => (a[0] as number) - (b[0] as number));
    expect(want.some((t) => t[1] === c.comm), JSON.stringify(want)).toBe(true);
    expect(ours).toEqual(want.filter((t) => t[0] !== 0));
  }, LAB);
}
