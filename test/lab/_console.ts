// What a lab job printed on the serial console: its own lines (not the kernel's), `KEY=value` values, and the lines
// a step printed between its `STEP …` and `RC-<step>=` markers.
import { expect } from "bun:test";
import type { GuestResult } from "../../lib/lab/qemu.ts";

/** Lines of the console that are not kernel messages (colour codes dropped). */
export const userLines = (r: GuestResult) => r.console.replace(/\x1b\[[0-9;]*m/g, "").split("\n").filter((l) => !l.startsWith("["));

/** The value printed by the job as `KEY=value` (last one). */
export const printed = (r: GuestResult, key: string) => userLines(r).filter((l) => l.startsWith(`${key}=`)).pop()?.slice(key.length + 1);

/** The non-empty lines (e.g. a `kdump: …` error) printed after the last `STEP …` line before `RC-<step>=`. */
export function errorBefore(r: GuestResult, step: string): string[] {
  const lines = userLines(r);
  const end = lines.findIndex((l) => l.startsWith(`RC-${step}=`));
  const start = lines.slice(0, end).findLastIndex((l) => l.startsWith("STEP "));
  return lines.slice(start + 1, end).filter((l) => l.trim() !== "");
}

/** The job's `STEP TRIGGER` with nothing loaded: `kdump trigger --yes` refused in one line, and the guest never crashed. */
export function expectTriggerRefused(r: GuestResult): void {
  expect(printed(r, "RC-TRIGGER")).toBe("1");
  expect(errorBefore(r, "TRIGGER")).toEqual([expect.stringMatching(/^kdump: refusing to crash: no capture kernel is loaded/)]);
  expect(r.console).not.toContain("sysrq triggered crash");
  expect(r.kernelBoots).toBe(1);
}

/**
 * The console lines that tell how the guest booted and restarted (kernel banners, init, panics, reboots, the job's
 * boot and exit markers, the capture's lines): the message of a failed boot count.
 */
export function bootStory(r: GuestResult): string {
  const telling = /Linux version \d|Run \S+ as init process|Kernel panic|sysrq|reboot|Restarting|LAB-BOOT|LAB-EXIT|kdump-capture|crashing now|Call Trace|BUG:|Oops/;
  return r.console.split("\n").filter((l) => telling.test(l)).map((l) => l.slice(0, 160)).join("\n");
}

/** How many of the console's kernel boots printed a line matching `marker` (each boot: from its banner to the next). */
export function bootsPrinting(r: GuestResult, marker: RegExp): number {
  return r.console.split(/Linux version \d/).slice(1).filter((s) => marker.test(s)).length;
}
