// `sys`: what crash's sys prints, from what the dump holds: utsname from init_uts_ns, CPUs from the saved
// NT_PRSTATUS notes, memory and the panic string from the log, crash time from VMCOREINFO (any 2.6.24+ kernel).
import { KdumpError } from "../errors.ts";
import { NT_PRSTATUS } from "../dump/notes.ts";
import type { KernelView } from "../kernel/view.ts";
import type { PrintkRecord } from "../kernel/printk.ts";
import type { AnalyzeCommand, AnalyzeContext } from "./command.ts";

/** System facts of a crashed kernel. Fields the dump cannot supply are null. */
export interface SysInfo {
  /** The dump file. */
  dumpfile: string;
  /** Its format: elf, kdump or flat. */
  format: string;
  /** Kernel release (VMCOREINFO OSRELEASE). */
  release: string;
  /** Kernel version string (utsname.version, e.g. "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (…)"). */
  version: string | null;
  /** utsname.machine, e.g. "x86_64". */
  machine: string | null;
  /** utsname.nodename of the initial UTS namespace (the host name). */
  nodename: string | null;
  /** CPUs that saved their registers at the crash (NT_PRSTATUS notes). */
  cpus: number;
  /** RAM in bytes as the kernel counted it at boot ("Memory: …K/…K available"), or null. */
  memory: number | null;
  /** Crash time, seconds since the epoch (VMCOREINFO CRASHTIME). */
  crashTime: number | null;
  /** Uptime at the crash in nanoseconds: the timestamp of the last log record. */
  uptimeNsec: bigint | null;
  /** Why it crashed: the panic message, or the first line of the last oops. */
  panic: string | null;
}

// struct new_utsname: six char[65]: sysname, nodename, release, version, machine, domainname.
const UTS_LEN = 65;

/**
 * The system facts of the context's dump.
 * @example readSys(new AnalyzeContext(openDump(path))).release
 */
export function readSys(ctx: AnalyzeContext): SysInfo {
  const k = ctx.kernel;
  const uts = readUtsname(k);
  const log = tryOr(() => ctx.log, [] as PrintkRecord[]);
  const lines = logLines(log);
  const banner = lines.find((l) => l.startsWith("Linux version "));
  const mem = lines.map((l) => /^Memory: \d+K\/(\d+)K available/.exec(l)).find((m) => m);
  return {
    dumpfile: ctx.dump.path,
    format: ctx.dump.format,
    release: k.info.osrelease,
    version: uts?.version ?? (banner ? (/ (#\d+ .*)$/.exec(banner)?.[1] ?? null) : null),
    machine: uts?.machine ?? null,
    nodename: uts?.nodename ?? null,
    cpus: ctx.dump.notes.filter((n) => n.name === "CORE" && n.type === NT_PRSTATUS).length,
    memory: mem ? Number(mem[1]) * 1024 : null,
    crashTime: k.info.crashTime,
    uptimeNsec: log.length ? log[log.length - 1]!.tsNsec : null,
    panic: panicString(lines),
  };
}

/** init_uts_ns.name, or null when the dump lacks its page. */
function readUtsname(k: KernelView): { nodename: string; version: string; machine: string } | null {
  const base = k.info.symbols.get("init_uts_ns");
  if (base === undefined) return null;
  // OFFSET(uts_namespace.name) is exported since 5.11; before, name follows a 4-byte struct kref.
  const name = base + BigInt(k.info.offsets.get("uts_namespace.name") ?? 4);
  return tryOr(
    () => ({
      nodename: k.cstring(name + BigInt(UTS_LEN), UTS_LEN),
      version: k.cstring(name + BigInt(3 * UTS_LEN), UTS_LEN),
      machine: k.cstring(name + BigInt(4 * UTS_LEN), UTS_LEN),
    }),
    null,
  );
}

/** The log as text lines (a multi-line record gives several). */
export function logLines(log: PrintkRecord[]): string[] {
  const dec = new TextDecoder();
  return log.flatMap((r) => dec.decode(r.text).split("\n"));
}

const OOPS_MARKERS = /^(BUG: |Oops: |kernel BUG at |general protection fault|Unable to handle kernel |sysrq: Trigger a crash|SysRq : Trigger a crash)/;

/**
 * The panic string crash would show: the last "Kernel panic - not syncing:" message; else (panic_on_oops kexecs
 * before panic() prints) the first marker line of the last oops, e.g. "BUG: kernel NULL pointer dereference, …".
 */
export function panicString(lines: string[]): string | null {
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = /Kernel panic - not syncing: (.*)$/.exec(lines[i]!);
    if (m) return m[1]!.trim();
  }
  let last = -1;
  for (let i = lines.length - 1; i >= 0 && last < 0; i--) if (OOPS_MARKERS.test(lines[i]!)) last = i;
  if (last < 0) return null;
  let first = last;
  for (let i = last - 1; i >= Math.max(0, last - 10); i--) if (OOPS_MARKERS.test(lines[i]!)) first = i;
  return lines[first]!.trim();
}

/** crash's sys layout. */
export function formatSys(s: SysInfo): string {
  const row = (k: string, v: string) => `${k.padStart(12)}: ${v}\n`;
  return (
    row("DUMPFILE", `${s.dumpfile}  [${s.format}]`) +
    row("CPUS", String(s.cpus)) +
    row("DATE", s.crashTime === null ? "(unknown)" : date(s.crashTime)) +
    row("UPTIME", s.uptimeNsec === null ? "(unknown)" : uptime(s.uptimeNsec)) +
    row("NODENAME", s.nodename ?? "(unknown)") +
    row("RELEASE", s.release) +
    row("VERSION", s.version ?? "(unknown)") +
    row("MACHINE", s.machine ?? "(unknown)") +
    row("MEMORY", s.memory === null ? "(unknown)" : bytes(s.memory)) +
    row("PANIC", s.panic === null ? "(none found in the log)" : `"${s.panic}"`)
  );
}

/** "[N days, ]HH:MM:SS" as crash prints uptime. */
export function uptime(ns: bigint): string {
  let s = Number(ns / 1_000_000_000n);
  const days = Math.floor(s / 86400);
  s -= days * 86400;
  const hms = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60].map((n) => String(n).padStart(2, "0")).join(":");
  return days ? `${days} days, ${hms}` : hms;
}

/** A time as crash and date(1) print it, in UTC: "Mon Nov 23 08:55:44 UTC 2026". */
function date(seconds: number): string {
  const d = new Date(seconds * 1000);
  const [wd, mon] = [["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][d.getUTCDay()], ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][d.getUTCMonth()]];
  return `${wd} ${mon} ${String(d.getUTCDate()).padStart(2)} ${d.toISOString().slice(11, 19)} UTC ${d.getUTCFullYear()}`;
}

function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 && i > 0 ? 1 : 0)} ${units[i]}`;
}

function tryOr<T>(f: () => T, fallback: T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof KdumpError) return fallback;
    throw e;
  }
}

/** `kdump analyze VMCORE sys`. */
export const sysCommand: AnalyzeCommand = {
  describe: "system facts: release, version, machine, node name, CPUs, memory, crash time, uptime, panic",
  run: (ctx) => {
    const s = readSys(ctx);
    return { data: s, text: formatSys(s) };
  },
};
