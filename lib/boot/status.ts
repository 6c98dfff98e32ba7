// What a user checks first on a box: the crashkernel= reservation, whether a capture kernel is loaded,
// kexec_file_load support and lockdown. Reads /proc and /sys (any kernel with kexec, 2.6.27+).
import { installedKernel } from "./kernel_files.ts";
import { existsSync, readFileSync } from "node:fs";
import { type BootState, bootState } from "./boot_state.ts";
import { formatUnfinished, unfinishedDumps, type UnfinishedDump } from "../collect/unfinished.ts";

/** Where the status files live; tests point `root` at a scratch tree. */
export interface StatusSources {
  /** Prefix for /proc, /sys and /boot ("" on a real box). */
  root: string;
  /** Dump folders to check for unfinished dumps (default: <root>/var/crash). */
  crashDirs?: string[];
}

/** The reserved crash region from /proc/iomem. */
export interface CrashRegion {
  /** First byte, 0 when /proc/iomem hides addresses (non-root). */
  start: bigint;
  /** Last byte (inclusive), as /proc/iomem prints it. */
  end: bigint;
  /** True when /proc/iomem printed zeros because we are not root. */
  hidden: boolean;
}

/** What `kdump status` reports (with the boot loader's configured crashkernel= and a shrink offer). */
export interface Status extends BootState {
  /** The running kernel's release (uname -r). */
  kernel: string;
  /** crashkernel= values on /proc/cmdline, as written (empty when none). */
  crashkernel: string[];
  /** "Crash kernel" regions from /proc/iomem. */
  regions: CrashRegion[];
  /** /sys/kernel/kexec_crash_size in bytes, or null when the file is missing. */
  crashSize: number | null;
  /** /sys/kernel/kexec_crash_loaded: a capture kernel is loaded. */
  crashLoaded: boolean | null;
  /** /sys/kernel/kexec_loaded: a kernel is staged for kexec -e. */
  kexecLoaded: boolean | null;
  /** CONFIG_KEXEC_FILE of the running kernel, or null when its config cannot be found. */
  kexecFile: boolean | null;
  /** Where the config answer came from. */
  configSource: string | null;
  /** The active lockdown mode (none, integrity, confidentiality), or null without the LSM. */
  lockdown: string | null;
  /** /proc/vmcore exists: this is a capture kernel with a dump to save. */
  vmcore: boolean;
  /** Dumps under the dump folders that were interrupted or failed (or are being collected), with the reason. */
  unfinished: UnfinishedDump[];
  /** True when a crash now would be captured. */
  ready: boolean;
  /** One line: "ready: …" or "not ready: … do X". */
  verdict: string;
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

/** crashkernel= values of a kernel command line, in order. */
export function crashkernelArgs(cmdline: string): string[] {
  return cmdline
    .trim()
    .split(/\s+/)
    .filter((w) => w.startsWith("crashkernel="))
    .map((w) => w.slice("crashkernel=".length));
}

/** "Crash kernel" regions of /proc/iomem text (nested lines included). */
export function crashRegions(iomem: string): CrashRegion[] {
  const out: CrashRegion[] = [];
  for (const line of iomem.split("\n")) {
    const m = /^\s*([0-9a-f]+)-([0-9a-f]+) : Crash kernel\s*$/.exec(line);
    if (!m) continue;
    const start = BigInt("0x" + m[1]);
    const end = BigInt("0x" + m[2]);
    out.push({ start, end, hidden: start === 0n && end === 0n });
  }
  return out;
}

/** The active mode in /sys/kernel/security/lockdown text ("none [integrity] confidentiality"). */
export function lockdownMode(text: string): string | null {
  const m = /\[(\w+)\]/.exec(text);
  return m ? m[1]! : null;
}

/**
 * CONFIG_KEXEC_FILE from the running kernel's config: /boot/config-RELEASE or /usr/lib/modules/RELEASE/config
 * (kernel-install's layout, Debian 7.x), then /proc/config.gz.
 */
export function kexecFileConfig(root: string, release: string): { value: boolean | null; source: string | null } {
  const { config } = installedKernel(release, root);
  let text = config === null ? null : readText(`${root}${config}`);
  let source: string | null = text === null ? null : config;
  if (text === null && existsSync(`${root}/proc/config.gz`)) {
    try {
      text = new TextDecoder().decode(Bun.gunzipSync(readFileSync(`${root}/proc/config.gz`)));
      source = "/proc/config.gz";
    } catch {
      text = null;
    }
  }
  if (text === null) return { value: null, source: null };
  return { value: /^CONFIG_KEXEC_FILE=y$/m.test(text), source };
}

function flag(path: string): boolean | null {
  const t = readText(path);
  return t === null ? null : t.trim() === "1";
}

/** Reads the box's kdump state. Pure reads; never loads or changes anything. */
export function readStatus(src: StatusSources = { root: "" }): Status {
  const r = src.root;
  const kernel = (readText(`${r}/proc/sys/kernel/osrelease`) ?? "unknown").trim();
  const cmdline = readText(`${r}/proc/cmdline`) ?? "";
  const regions = crashRegions(readText(`${r}/proc/iomem`) ?? "");
  const sizeText = readText(`${r}/sys/kernel/kexec_crash_size`);
  const crashSize = sizeText === null ? null : Number(sizeText.trim());
  const { value: kexecFile, source: configSource } = kexecFileConfig(r, kernel);
  const lockText = readText(`${r}/sys/kernel/security/lockdown`);
  const s: Omit<Status, "ready" | "verdict"> = {
    kernel,
    crashkernel: crashkernelArgs(cmdline),
    regions,
    crashSize,
    crashLoaded: flag(`${r}/sys/kernel/kexec_crash_loaded`),
    kexecLoaded: flag(`${r}/sys/kernel/kexec_loaded`),
    kexecFile,
    configSource,
    lockdown: lockText === null ? null : lockdownMode(lockText),
    vmcore: existsSync(`${r}/proc/vmcore`),
    unfinished: (src.crashDirs ?? [`${r}/var/crash`]).flatMap((d) => unfinishedDumps(d)),
    ...bootState(r, cmdline, crashSize),
  };
  return { ...s, ...verdict(s) };
}

/** The one-line verdict and readiness for a status. */
export function verdict(s: Omit<Status, "ready" | "verdict">): { ready: boolean; verdict: string } {
  if (s.vmcore) return { ready: false, verdict: "not ready: this is a capture kernel with a dump in /proc/vmcore: save it with `kdump collect`" };
  if (s.crashkernel.length === 0 && !s.crashSize && s.configured?.length)
    return { ready: false, verdict: `not ready: ${s.pending}` };
  if (s.crashkernel.length === 0 && !s.crashSize)
    return { ready: false, verdict: "not ready: no crashkernel= on the kernel command line: reserve memory with `kdump recipes/setup-grub.ts` and reboot" };
  if (!s.crashSize)
    return { ready: false, verdict: `not ready: crashkernel=${s.crashkernel.join(",")} is set but no memory was reserved: the value may not fit this machine's RAM; check dmesg for "crashkernel" and pick a smaller size` };
  if (s.crashLoaded !== true)
    return { ready: false, verdict: `not ready: ${mib(s.crashSize)} reserved but no capture kernel is loaded: run \`kdump load\`` };
  return { ready: true, verdict: `ready: a crash now is captured (${mib(s.crashSize)} reserved, capture kernel loaded)` };
}

function mib(bytes: number): string {
  return `${Math.round(bytes / 1048576)} MiB`;
}

/** Human-readable status, one fact per line. */
export function formatStatus(s: Status): string {
  const hex = (v: bigint) => "0x" + v.toString(16).padStart(16, "0");
  const yn = (v: boolean | null) => (v === null ? "unknown" : v ? "yes" : "no");
  const lines = [
    `kernel:             ${s.kernel}`,
    `crashkernel=:       ${s.crashkernel.length ? s.crashkernel.join(" ") : "(none on /proc/cmdline)"}`,
    ...(s.regions.length
      ? s.regions.map((g) =>
          g.hidden
            ? `reserved region:    present (addresses hidden: /proc/iomem shows zeros to non-root users)`
            : `reserved region:    ${hex(g.start)}-${hex(g.end)} (${mib(Number(g.end - g.start + 1n))})`)
      : [`reserved region:    none in /proc/iomem`]),
    `kexec_crash_size:   ${s.crashSize === null ? "unknown (/sys/kernel/kexec_crash_size missing)" : `${s.crashSize} (${mib(s.crashSize)})`}`,
    `capture loaded:     ${yn(s.crashLoaded)}`,
    `kexec staged:       ${yn(s.kexecLoaded)}`,
    `kexec_file_load:    ${yn(s.kexecFile)}${s.configSource ? ` (CONFIG_KEXEC_FILE from ${s.configSource})` : " (no kernel config found)"}`,
    `lockdown:           ${s.lockdown ?? "not available"}`,
    `configured:         ${s.configured === null ? "unknown (no supported boot loader found)" : s.configured.length ? s.configured.map((v) => `crashkernel=${v}`).join(" ") : "no crashkernel= in the boot loader"}`,
    ...(s.pending ? [s.pending] : []),
    ...formatUnfinished(s.unfinished ?? []),
    ...(s.shrink ? [`shrink:             ${mib(s.shrink.to)} is enough (rehearsal): free the rest now with ${s.shrink.command}`] : []),
    s.verdict,
  ];
  return lines.join("\n");
}
