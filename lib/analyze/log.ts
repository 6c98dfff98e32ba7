// `log`: the kernel log as kexec-tools' vmcore-dmesg (2.0.25) prints it, byte for byte: "[%5lu.%06lu] " then the
// record's text with bytes that are neither printable nor space as \xNN, then a newline; or the records as JSON.
import type { PrintkRecord } from "../kernel/printk.ts";
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
}

/**
 * The vmcore-dmesg text of `records`.
 * @example formatDmesg(readPrintk(kernel))  // "[    0.000000] Linux version 6.1.0-…\n…"
 */
export function formatDmesg(records: PrintkRecord[]): string {
  const parts: string[] = [];
  for (const r of records) parts.push(`[${timestamp(r.tsNsec)}] `, escapeText(r.text), "\n");
  return parts.join("");
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

/** `kdump analyze VMCORE log`. */
export const logCommand: AnalyzeCommand = {
  describe: "the kernel log (as vmcore-dmesg prints it; --json: records with seq, ts_nsec, level, facility, caller_id, text)",
  run: (ctx) => ({ data: logJson(ctx.log), text: formatDmesg(ctx.log) }),
};
