// `log`: the kernel log as kexec-tools' vmcore-dmesg (2.0.25) prints it, byte for byte: "[%5lu.%06lu] " then the
// record's text with bytes that are neither printable nor space as \xNN, then a newline; or the records as JSON.
// crash's options: -T puts the wall-clock time in the brackets ("[Tue Dec  1 09:18:50 UTC 2026]", from
// timekeeping's monotonic-to-real offset), -m the level after them ("<6>").
import { UsageError } from "../errors.ts";
import type { PrintkRecord } from "../kernel/printk.ts";
import { readTimekeeping } from "../kernel/timekeeping.ts";
import type { AnalyzeCommand } from "./command.ts";

/** A record as `kdump analyze VMCORE log --json` prints it. */
export interface LogRecordJson {
  /** Sequence number, null for pre-5.10 kernels. */
  seq: bigint | null;
  /** Nanoseconds since boot. */
  ts_nsec: bigint;
  /** Syslog level 0–7. */
  level: number;
  /** Syslog facility. */
  facility: number;
  /** "T<pid>" for a task, "C<cpu>" for a CPU context, as the kernel prints caller ids; null when not recorded. */
  caller_id: string | null;
  /** The text (UTF-8; invalid bytes become U+FFFD). */
  text: string;
  /** With -T: the wall-clock time (ISO 8601, whole seconds). */
  time?: string;
}

/** How `log` prints each line (crash's options). */
export interface LogFormat {
  /** -T: CLOCK_REALTIME minus CLOCK_MONOTONIC in ns (Timekeeping.offsReal); the wall-clock time replaces the timestamp. */
  offsReal?: bigint;
  /** -m: the level as <N> before the text. */
  levels?: boolean;
}

/**
 * The vmcore-dmesg text of `records`, or crash's log -T / -m forms.
 * @example formatDmesg(readPrintk(kernel))  // "[    0.000000] Linux version 6.1.0-…\n…"
 */
export function formatDmesg(records: PrintkRecord[], fmt: LogFormat = {}): string {
  const parts: string[] = [];
  // crash (-T, -m) indents a record's continuation lines under its text; vmcore-dmesg (neither) does not
  const crash = fmt.offsReal !== undefined || fmt.levels === true;
  for (const r of records) {
    const prefix = `[${fmt.offsReal === undefined ? timestamp(r.tsNsec) : ctime(wallSeconds(r.tsNsec, fmt.offsReal))}] ${fmt.levels ? `<${r.level}>` : ""}`;
    const text = escapeText(r.text);
    parts.push(prefix, crash ? text.replaceAll("\n", "\n" + " ".repeat(prefix.length)) : text, "\n");
  }
  return parts.join("");
}

/** Wall-clock seconds of a printk timestamp (ns since boot on the monotonic clock). */
export function wallSeconds(tsNsec: bigint, offsReal: bigint): number {
  return Number((tsNsec + offsReal) / 1_000_000_000n);
}

/** C's ctime() with the zone name before the year, as crash prints it: "Tue Dec  1 09:18:50 UTC 2026" (local time). */
export function ctime(seconds: number): string {
  let s = ctimes.get(seconds);
  if (s === undefined) ctimes.set(seconds, (s = formatCtime(seconds)));
  return s;
}

/** ctime() by second: a log has a few distinct seconds, and Intl's zone name is slow (~0.1 ms). */
const ctimes = new Map<number, string>();

function formatCtime(seconds: number): string {
  const d = new Date(seconds * 1000);
  const day = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][d.getDay()]!;
  const month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][d.getMonth()]!;
  const zone = new Intl.DateTimeFormat("en-US", { timeZoneName: "short" }).formatToParts(d).find((p) => p.type === "timeZoneName")?.value ?? "";
  const two = (n: number) => String(n).padStart(2, "0");
  return `${day} ${month} ${String(d.getDate()).padStart(2)} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${zone} ${d.getFullYear()}`;
}

/** "%5lu.%06lu" of seconds and microseconds (truncated, as vmcore-dmesg divides). */
export function timestamp(ns: bigint): string {
  return `${(ns / 1_000_000_000n).toString().padStart(5)}.${((ns % 1_000_000_000n) / 1000n).toString().padStart(6, "0")}`;
}

/** The text with every byte that C's isprint() and isspace() both reject written as \xNN (C locale). */
export function escapeText(text: Uint8Array): string {
  let plain = true;
  for (const c of text) if (!keep(c)) plain = false;
  if (plain) return Buffer.from(text.buffer, text.byteOffset, text.length).toString("latin1");
  let s = "";
  for (const c of text) s += keep(c) ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, "0")}`;
  return s;
}

function keep(c: number): boolean {
  return (c >= 0x20 && c <= 0x7e) || (c >= 0x09 && c <= 0x0d);
}

/** The caller id as the kernel prints it: T<pid> or C<cpu>. */
export function callerName(id: number | null): string | null {
  if (id === null) return null;
  return id & 0x80000000 ? `C${id & 0x7fffffff}` : `T${id}`;
}

/** The records in their JSON form. */
export function logJson(records: PrintkRecord[]): LogRecordJson[] {
  const dec = new TextDecoder();
  return records.map((r) => ({ seq: r.seq, ts_nsec: r.tsNsec, level: r.level, facility: r.facility, caller_id: callerName(r.callerId), text: dec.decode(r.text) }));
}

/** `kdump analyze VMCORE log [-T] [-m]`. */
export const logCommand: AnalyzeCommand = {
  describe: "the kernel log (as vmcore-dmesg prints it; -T wall-clock times, -m levels, like crash; --json: records with seq, ts_nsec, level, facility, caller_id, text, and time with -T)",
  run: (ctx) => {
    const flags = new Set<string>();
    for (const a of ctx.opts.args ?? []) {
      if (!/^-[Tm]+$/.test(a)) throw new UsageError(`log: unknown argument ${a}`, { hint: "log [-T] [-m]" });
      for (const c of a.slice(1)) flags.add(c);
    }
    const fmt: LogFormat = { levels: flags.has("m") };
    if (flags.has("T")) fmt.offsReal = readTimekeeping(ctx.program).offsReal;
    const data = logJson(ctx.log);
    if (fmt.offsReal !== undefined) {
      const offs = fmt.offsReal;
      data.forEach((r, i) => (r.time = new Date(wallSeconds(ctx.log[i]!.tsNsec, offs) * 1000).toISOString()));
    }
    return { data, text: formatDmesg(ctx.log, fmt) };
  },
};
