// A rehearsal of the whole kdump pipeline in a throwaway QEMU guest, through the recipes a user runs on a
// server: load → trigger → (capture kernel) collect → boot again → analyze. Reports each phase, or why it failed.
import { CAPTURE_LOG } from "../initramfs/init.ts";
import type { LabKernel } from "./kernels.ts";
import { runGuest } from "./qemu.ts";

/** What to rehearse. */
export interface RehearseOptions {
  kernel: LabKernel;
  /** The crashkernel= value the guest boots with (default "256M"). */
  crashkernel?: string;
  /** vCPUs (default 2). */
  cpus?: number;
  /** Guest memory in MiB (default 1024). */
  memoryMiB?: number;
  /** Guest shell that crashes the kernel (default: the trigger recipe, sysrq 'c'). */
  crash?: string;
  /** More arguments for the guest's `recipes/load.ts` (e.g. `--append nr_cpus=2`: two CPUs in the capture kernel). */
  loadArgs?: string[];
  /** Guest shell run last in the boot after the capture, once the analysis passed (a bench's own measurements). */
  after?: string;
  /** Extra files in the guest root filesystem. */
  files?: Record<string, string | Uint8Array>;
  /** Size of the guest's root filesystem in MiB, where the dumps are saved (default 3072, rootfs.ts). */
  rootfsMiB?: number;
  /** Wall-clock limit in seconds (default 300). */
  timeoutSeconds?: number;
  /** Progress: called with each phase as it starts. */
  onPhase?: (phase: string) => void;
  /** Every console line, for a verbose view. */
  onLine?: (line: string) => void;
}

/** One phase of the pipeline and how long it took (host wall clock). */
export interface Phase {
  name: "boot" | "load" | "trigger" | "capture" | "reboot" | "analyze";
  seconds: number;
}

/** The outcome of a rehearsal. */
export interface RehearseReport {
  kernel: string;
  crashkernel: string;
  passed: boolean;
  /** Why it failed, in one line (absent when it passed). */
  reason?: string;
  phases: Phase[];
  /** Size of the saved dump file in bytes (0 when none). */
  dumpBytes: number;
  /** Path of the dump in the guest. */
  dumpPath: string | null;
  /** Who saved it in the capture kernel: our collector, or the busybox dd fallback (a pass for the dd path only). */
  savedBy: "collector" | "dd" | null;
  /** The panic task's backtrace as analyze printed it. */
  bt: string[];
  /** The log's crash lines (panic, Oops, BUG, sysrq), as analyze read them from the dump. */
  panic: string[];
  /** The last 40 log lines. */
  logTail: string[];
  /** Total wall-clock seconds. */
  seconds: number;
}

const MARK = "REHEARSE";

/** The guest's side of the rehearsal: the recipes, with markers the host times. */
function job(crash?: string, after = "", loadArgs: string[] = []): string {
  const load = ["bunx kdump recipes/load.ts", ...loadArgs.map((a) => `'${a.replace(/'/g, "'\\''")}'`)].join(" ");
  return `
if [ "$LAB_BOOT" = 1 ]; then
  echo "${MARK} load"
  ${load} || { echo "${MARK}-FAIL load: recipes/load.ts exited $?"; exit 1; }
  echo "${MARK} trigger"
  ${crash ?? "bunx kdump recipes/trigger.ts --yes"}
  echo "${MARK}-FAIL trigger: the crash command returned and the kernel is still running"
  exit 1
fi
echo "${MARK} analyze"
dump=$(ls -1dt /var/crash/*/vmcore 2>/dev/null | head -1)
[ -n "$dump" ] || { echo "${MARK}-FAIL collect: no complete dump (vmcore) under /var/crash: $(ls -R /var/crash 2>&1 | tr '\\n' ' ')"; exit 1; }
echo "${MARK}-DUMP $(stat -c %s "$dump") $dump"
bunx kdump recipes/analyze.ts || { echo "${MARK}-FAIL analyze: recipes/analyze.ts exited $?"; exit 1; }
kdump analyze "$dump" bt > /tmp/bt.txt || { echo "${MARK}-FAIL analyze: kdump analyze bt exited $?"; exit 1; }
sed 's/^/${MARK}-BT /' /tmp/bt.txt
kdump analyze "$dump" log > /tmp/log.txt || { echo "${MARK}-FAIL analyze: kdump analyze log exited $?"; exit 1; }
grep -E 'Kernel panic - not syncing|sysrq: Trigger a crash|Oops:|BUG:' /tmp/log.txt | tail -3 | sed 's/^/${MARK}-PANIC /'
tail -40 /tmp/log.txt | sed 's/^/${MARK}-LOG /'
${after}
`;
}

/**
 * Rehearses the pipeline once and reports. Never throws for a pipeline failure: `passed` and `reason` say it.
 * @example const r = await rehearse({ kernel: await fetchKernel("6.1"), crashkernel: "256M" }); r.passed
 */
export async function rehearse(o: RehearseOptions): Promise<RehearseReport> {
  const crashkernel = o.crashkernel ?? "256M";
  const t0 = performance.now();
  const marks: { name: string; at: number }[] = [{ name: "boot", at: 0 }];
  const mark = (name: string) => {
    marks.push({ name, at: (performance.now() - t0) / 1000 });
    o.onPhase?.(name);
  };
  o.onPhase?.("boot");
  let kernelBanners = 0;
  const r = await runGuest({
    kernel: o.kernel,
    job: job(o.crash, o.after, o.loadArgs),
    cmdline: `crashkernel=${crashkernel}`,
    cpus: o.cpus ?? 2,
    memoryMiB: o.memoryMiB ?? 1024,
    boots: 2,
    timeoutSeconds: o.timeoutSeconds ?? 300,
    rootfs: { files: o.files, sizeMiB: o.rootfsMiB },
    onLine: (line) => {
      o.onLine?.(line);
      const m = new RegExp(`^${MARK} (\\w+)`).exec(line);
      if (m) mark(m[1]!);
      // the capture starts at the first kernel banner after the trigger, the reboot at the first after the capture: a
      // banner before the job ran (a first kernel that restarted while booting) moves neither
      if (/Linux version \d/.test(line)) {
        kernelBanners++;
        const last = marks[marks.length - 1]!.name;
        if (last === "trigger") mark("capture");
        else if (last === "capture") mark("reboot");
      }
    },
  });
  const seconds = (performance.now() - t0) / 1000;
  const phases: Phase[] = marks.map((m, i) => ({
    name: m.name as Phase["name"],
    seconds: Math.round(((marks[i + 1]?.at ?? seconds) - m.at) * 10) / 10,
  }));
  const prefixed = (tag: string) =>
    r.console.split("\n").filter((l) => l.startsWith(`${MARK}-${tag} `)).map((l) => l.slice(MARK.length + tag.length + 2));
  const dumpLine = new RegExp(`^${MARK}-DUMP (\\d+) (\\S+)`, "m").exec(r.console);
  const report: RehearseReport = {
    kernel: o.kernel.release,
    crashkernel,
    passed: false,
    phases,
    dumpBytes: dumpLine ? Number(dumpLine[1]) : 0,
    dumpPath: dumpLine ? dumpLine[2]! : null,
    savedBy: savedBy(r.console),
    bt: prefixed("BT"),
    panic: prefixed("PANIC"),
    logTail: prefixed("LOG"),
    seconds: Math.round(seconds * 10) / 10,
  };
  r.cleanup();
  report.reason = failure(r, report, kernelBanners);
  report.passed = report.reason === undefined;
  return report;
}

/** Who saved the dump, from the capture init's console lines (lib/initramfs/init.ts); null when neither did. */
export function savedBy(text: string): "collector" | "dd" | null {
  if (text.includes(`${CAPTURE_LOG} saved by the collector`)) return "collector";
  return new RegExp(`${CAPTURE_LOG} saved \\S+ by busybox dd`).test(text) ? "dd" : null;
}

/** Why a rehearsal failed, judged from what it left; undefined when every stage did its work. */
function failure(r: { console: string; timedOut: boolean; exitCode: number | null }, rep: RehearseReport, banners: number): string | undefined {
  const said = new RegExp(`^${MARK}-FAIL (.*)$`, "m").exec(r.console);
  if (said) return said[1];
  if (banners < 2) {
    if (/Kernel panic|sysrq: Trigger a crash/.test(r.console))
      return `capture: the kernel crashed but no capture kernel booted${r.timedOut ? " (timed out)" : ""}; is crashkernel=${rep.crashkernel} enough?`;
    return r.timedOut ? "timed out before the crash" : "the guest stopped before the crash";
  }
  if (/Initramfs unpacking failed|Kernel panic - not syncing: (VFS|System is deadlocked|Out of memory)/.test(r.console.split(/Linux version \d/)[2] ?? ""))
    return `capture: the capture kernel failed (${/Initramfs unpacking failed[^\n]*|Kernel panic - not syncing[^\n]*/.exec(r.console.split(/Linux version \d/)[2]!)![0]}); crashkernel=${rep.crashkernel} is too small?`;
  if (banners < 3) return r.timedOut ? "capture: timed out in the capture kernel" : "capture: the capture kernel did not reboot into the system";
  if (r.timedOut) return "timed out after the capture";
  if (!rep.dumpPath) return "collect: no dump was saved";
  if (rep.bt.length === 0) return "analyze: the panic backtrace is empty";
  if (rep.panic.length === 0) return "analyze: the log read from the dump does not show the crash";
  if (r.exitCode !== 0) return `analyze: the last step exited ${r.exitCode}`;
  return undefined;
}

/** A crashkernel= size in MiB. */
function mib(size: string): number {
  const m = /^(\d+)([KMG])?$/i.exec(size);
  if (!m) return NaN;
  const n = Number(m[1]);
  return { K: n / 1024, M: n, G: n * 1024 }[(m[2] ?? "M").toUpperCase() as "K" | "M" | "G"];
}

/**
 * Bisects the smallest crashkernel= (in `stepMiB` steps) with which a rehearsal still captures and analyzes a dump
 * through our collector (a pass through the busybox dd fallback counts as a failure of the collector's path).
 * Starts from `high`, which must pass; returns every trial, the minimum, and the smallest size the dd fallback
 * alone passed with (or null).
 */
export async function findMinimum(
  o: RehearseOptions & { low?: number; high?: number; stepMiB?: number },
): Promise<{ minimumMiB: number | null; ddMinimumMiB: number | null; trials: RehearseReport[] }> {
  const step = o.stepMiB ?? 16;
  let hi = o.high ?? (o.crashkernel ? mib(o.crashkernel) : 384);
  let lo = o.low ?? 64; // assumed to fail; verified only if the bisection reaches it
  const trials: RehearseReport[] = [];
  const attempt = async (size: number) => {
    const r = await rehearse({ ...o, crashkernel: `${size}M` });
    trials.push(r);
    return r.passed && r.savedBy === "collector";
  };
  const ddMinimum = () => {
    const dd = trials.filter((t) => t.passed && t.savedBy === "dd").map((t) => mib(t.crashkernel));
    return dd.length ? Math.min(...dd) : null;
  };
  if (!(await attempt(hi))) return { minimumMiB: null, ddMinimumMiB: ddMinimum(), trials };
  while (hi - lo > step) {
    const mid = Math.round((lo + hi) / 2 / step) * step;
    if (mid <= lo || mid >= hi) break;
    if (await attempt(mid)) hi = mid;
    else lo = mid;
  }
  return { minimumMiB: hi, ddMinimumMiB: ddMinimum(), trials };
}

/** The report as text: one line per phase, then the bt and the verdict. */
export function formatRehearsal(r: RehearseReport): string {
  const lines = [
    `rehearsal: ${r.kernel}, crashkernel=${r.crashkernel}`,
    ...r.phases.map((p) => `  ${p.name.padEnd(8)} ${p.seconds.toFixed(1).padStart(6)} s`),
    `  dump     ${r.dumpPath ? `${r.dumpPath} (${(r.dumpBytes / 1048576).toFixed(1)} MiB)` : "none"}`,
  ];
  if (r.panic.length) lines.push("log:", ...r.panic.map((l) => `  ${l}`));
  if (r.bt.length) lines.push("panic bt:", ...r.bt.map((l) => `  ${l}`));
  lines.push(r.passed ? `PASS in ${r.seconds} s` : `FAIL: ${r.reason}`);
  return lines.join("\n");
}
