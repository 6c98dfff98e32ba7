// The collector's peak memory (lib/collect/peak_memory.ts): /proc/self/status fields, and a sampled peak that sees
// an allocation made and dropped between start and stop.
import { expect, test } from "bun:test";
import { sampleMemory, statmAnon, statusBytes } from "../../lib/collect/peak_memory.ts";

test("statusBytes() reads a kB field as bytes and 0 when absent", () => {
  const s = "Name:\tbun\nVmHWM:\t  102400 kB\nRssAnon:\t   58780 kB\n";
  expect(statusBytes(s, "VmHWM")).toBe(102400 * 1024);
  expect(statusBytes(s, "RssAnon")).toBe(58780 * 1024);
  expect(statusBytes(s, "RssShmem")).toBe(0);
});

test("sampleMemory() keeps the peak of an allocation freed before stop()", async () => {
  Bun.gc(true); // earlier tests in this process may leave garbage the allocation would otherwise reuse
  const m = sampleMemory(10);
  const before = statusBytes(require("node:fs").readFileSync("/proc/self/status", "utf8"), "RssAnon");
  const held: Uint8Array[] = [new Uint8Array(96 << 20).fill(1)]; // touched: 96 MiB of anonymous pages
  await Bun.sleep(60);
  expect(held.pop()!.length).toBe(96 << 20);
  Bun.gc(true);
  const peak = m.stop();
  expect(peak.anon).toBeGreaterThan(before + (80 << 20));
  expect(peak.hwm).toBeGreaterThanOrEqual(peak.anon);
});

test("sample() catches a peak inside synchronous work, where the timer cannot fire", () => {
  const m = sampleMemory(60_000);
  const before = statusBytes(require("node:fs").readFileSync("/proc/self/status", "utf8"), "RssAnon");
  const held: Uint8Array[] = [new Uint8Array(64 << 20).fill(2)];
  m.sample();
  expect(held.pop()!.length).toBe(64 << 20);
  expect(m.stop().anon).toBeGreaterThan(before + (48 << 20));
});

test("statmAnon() is status's RssAnon read from /proc/self/statm (resident less shared pages)", () => {
  expect(statmAnon("25000 9000 3000 100 0 12000 0\n", 4096)).toBe(6000 * 4096);
  expect(statmAnon("garbage", 4096)).toBeNull();
  // this process, both files read back to back: the same figure within a few pages of allocation between the reads
  const { readFileSync } = require("node:fs");
  for (let i = 0; i < 3; i++) {
    const fromStatus = statusBytes(readFileSync("/proc/self/status", "utf8"), "RssAnon");
    const fromStatm = statmAnon(readFileSync("/proc/self/statm", "latin1"), 4096)!;
    expect(Math.abs(fromStatm - fromStatus)).toBeLessThanOrEqual(64 * 4096);
  }
});
