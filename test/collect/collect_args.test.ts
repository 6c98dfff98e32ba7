// The capture entry's yargs-free parse of `collect` (fastCollectArgs): on the command lines it takes it gives
// exactly the object yargs gives from the same option table; everything else it leaves to yargs.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import yargs from "yargs";
import { collectOptions, fastCollectArgs } from "../../lib/collect/collect_verb.ts";
import { collectArgs } from "../../lib/config/capture_settings.ts";
import { DEFAULT_SETTINGS } from "../../lib/config/settings.ts";

const ROOT = join(import.meta.dir, "..", "..");

function throughYargs(args: string[]): Record<string, unknown> {
  let got: Record<string, unknown> = {};
  yargs(args)
    .scriptName("kdump")
    .command("collect", "", (y) => collectOptions(y), (a) => void (got = a))
    .strict()
    .fail((msg) => {
      throw new Error(msg);
    })
    .parseSync();
  return got;
}

describe("fastCollectArgs()", () => {
  test("gives yargs' object for the capture init's command lines and other plain ones", () => {
    for (const args of [
      ["collect"],
      ["collect", "--from", "/proc/vmcore", "--out", "/var/crash", "--compress", "zstd"],
      ["collect", "--from", "/proc/vmcore", "--out", "/var/crash", "--compress", "lzo", "--level", "1", "--threads", "2"],
      ["collect", "--out=-", "--format", "flat", "--no-dmesg", "--json"],
      ["collect", "--out", "ssh://kdump@10.0.2.2/var/crash", "--failure-action", "shell", "--keep", "3", "--yes", "--host", "web1"],
      ["collect", "--level=0", "--dmesg"],
    ]) {
      const fast = fastCollectArgs(args);
      expect(fast).toBeDefined();
      const slow = throughYargs(args);
      expect({ ...fast, $0: undefined }).toEqual({ ...slow, $0: undefined });
    }
  });

  test("takes every command line the capture init is given from a config (so the capture never loads yargs)", () => {
    for (const s of [
      DEFAULT_SETTINGS,
      { ...DEFAULT_SETTINGS, codec: "zlib" as const, dumpLevel: 1, threads: 2, dmesg: false, keep: 3 },
      { ...DEFAULT_SETTINGS, codec: "lzo" as const, format: "flat" as const, threads: 0 },
    ]) {
      const args = ["collect", "--from", "/proc/vmcore", "--out", "/var/crash", ...collectArgs(s)];
      expect(fastCollectArgs(args) as unknown).toEqual({ ...throughYargs(args), $0: "kdump" });
    }
  });

  test("leaves help, short options, bad values, repeats and positionals to yargs", () => {
    for (const args of [
      ["collect", "--help"],
      ["collect", "-h"],
      ["collect", "--compress", "gzip"],
      ["collect", "--level", "x"],
      ["collect", "--level", "-1"],
      ["collect", "--out"],
      ["collect", "--out", "--json"],
      ["collect", "--out", "a", "--out", "b"],
      ["collect", "--dmesg=false"],
      ["collect", "--no-out"],
      ["collect", "extra"],
      ["collect", "--nosuch", "1"],
      ["collect", "--toString", "1"],
      ["analyze", "v", "bt"],
      [],
    ])
      expect(fastCollectArgs(args)).toBeUndefined();
  });
});

describe("lib/collect/main.ts", () => {
  const main = (...args: string[]) => Bun.spawnSync([process.execPath, join(ROOT, "lib", "collect", "main.ts"), ...args], { cwd: ROOT, env: { ...process.env, KDUMP_DEBUG: "" } });

  test("a dump that does not exist is one kdump: line and exit 1 by the fast path; a bad choice is yargs' usage error, exit 2", () => {
    const missing = main("collect", "--from", "/nonexistent/vmcore", "--out", "/tmp/kdump-args-test-out");
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr.toString()).toMatch(/^kdump: .*\/nonexistent\/vmcore.*\n$/);
    const bad = main("collect", "--compress", "gzip");
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr.toString()).toMatch(/^kdump: Invalid values: Argument: compress, Given: "gzip", Choices: .*\n$/);
  });

  test("--help goes through yargs and lists the options", () => {
    const help = main("collect", "--help");
    expect(help.exitCode).toBe(0);
    expect(help.stdout.toString()).toContain("--failure-action");
  });
});
