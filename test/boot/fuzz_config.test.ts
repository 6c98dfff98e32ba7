import { describe, expect, test } from "bun:test";
import { formatFuzz, fuzzConfig } from "./fuzz_config.ts";

// A fixed-seed slice of the config fuzzer (`npm run fuzz:config -- --cases 2000` runs the whole): every hostile
// file is either edited with no byte changed outside the crashkernel= values, idempotently, with bash agreeing on
// every other variable, or refused in one line naming the file, line and column.
describe("config fuzzer, fixed seed", () => {
  test("40 hostile GRUB, kdump-tools, BLS and /etc/kernel/cmdline boxes: no failure outcome", async () => {
    const r = await fuzzConfig({ cases: 40, seed: 1 });
    const bad = Object.keys(r.counts).filter((k) => !/^(ok|clean error|input not shell) /.test(k));
    expect([bad, r.failures]).toEqual([[], []]);
    expect((r.counts["ok (grub)"] ?? 0) + (r.counts["ok (systemd-boot)"] ?? 0)).toBeGreaterThan(20); // most are edited, not refused
    expect(formatFuzz(r, 40)).toContain("config fuzz: 40 cases");
  }, 120_000);
});
