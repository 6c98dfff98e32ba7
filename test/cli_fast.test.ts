// kdump.ts's yargs-free path for `analyze VMCORE COMMAND`: which argument lists it takes, and that it prints
// exactly what the yargs path prints on a real lab dump.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { fastAnalyzeArgs } from "../kdump.ts";
import { workerScript } from "../lib/collect/compress_pool.ts";
import { sysrqDump } from "./dump/_peers.ts";

const ROOT = join(import.meta.dir, "..");
const kdump = (...args: string[]) => Bun.spawnSync([process.execPath, join(ROOT, "kdump.ts"), ...args], { cwd: ROOT, env: { ...process.env, KDUMP_DEBUG: "" } });

describe("fastAnalyzeArgs()", () => {
  test("fastAnalyzeArgs() takes a command with its own short flags, -a and --json", () => {
    expect(fastAnalyzeArgs(["analyze", "v", "bt"])).toEqual({ vmcore: "v", command: "bt", json: false, args: [] });
    expect(fastAnalyzeArgs(["analyze", "v", "log", "-T", "-m"])).toEqual({ vmcore: "v", command: "log", json: false, args: ["-T", "-m"] });
    expect(fastAnalyzeArgs(["analyze", "v", "bt", "-f", "1", "-a", "--json"])).toEqual({ vmcore: "v", command: "bt", json: true, args: ["-a", "-f", "1"] });
    // list's own -h (a list_head address), not yargs' help
    expect(fastAnalyzeArgs(["analyze", "v", "list", "-h", "0xffff888000000000"])).toEqual({ vmcore: "v", command: "list", json: false, args: ["-h", "0xffff888000000000"] });
  });

  test("fastAnalyzeArgs() leaves other options, help, sessions and unknown commands to yargs", () => {
    for (const args of [
      ["analyze", "v"],
      ["analyze", "v", "-"],
      ["analyze", "v", "nosuch"],
      ["analyze", "v", "toString"],
      ["analyze", "-h"],
      ["analyze", "v", "bt", "-h"],
      ["analyze", "v", "bt", "-fa"],
      ["analyze", "v", "bt", "--format", "json"],
      ["analyze", "v", "bt", "--system-map=x"],
      ["status"],
    ])
      expect(fastAnalyzeArgs(args)).toBeUndefined();
  });
});

test("workerScript() is the file beside the pool from source, the second entry point in a compiled binary", () => {
  expect(workerScript("file:///opt/kdump/lib/collect/compress_pool.ts")).toBe("file:///opt/kdump/lib/dump/codecs/batch_worker.ts");
  expect(workerScript("file:///$bunfs/root/kdump")).toBe("./lib/dump/codecs/batch_worker.ts");
});

describe("analyze without yargs", () => {
  test(
    "bt, bt -a --json and log -T print the same bytes by the fast path as through yargs (--format text forces yargs)",
    async () => {
      const { vmcore } = await sysrqDump("6.1");
      for (const args of [["bt"], ["bt", "-a", "--json"], ["log", "-T"]]) {
        const fast = kdump("analyze", vmcore, ...args);
        const slow = kdump("analyze", vmcore, ...args, ...(args.includes("--json") ? ["--format", "json"] : ["--format", "text"]));
        expect(fast.exitCode).toBe(0);
        expect(slow.exitCode).toBe(0);
        expect(fast.stdout.length).toBeGreaterThan(200);
        expect(fast.stdout.toString()).toBe(slow.stdout.toString());
      }
    },
    600_000,
  );

  test("a dump that does not exist is one kdump: line and exit 1 on the fast path too", () => {
    const r = kdump("analyze", "/nonexistent/vmcore", "bt");
    expect(r.exitCode).toBe(1);
    expect(r.stderr.toString()).toMatch(/^kdump: .*\/nonexistent\/vmcore/);
    expect(r.stderr.toString().trim().split("\n")).toHaveLength(1);
  });
});
