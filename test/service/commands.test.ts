// The service verbs through the CLI, only where nothing can act on this machine: --help, bad usage, and `kdump test`
// with no terminal (it refuses before anything). start/enable are exercised on a fake box (arm, enable tests) and
// in the lab guest, never here: on a host with kexec and a reservation they would arm it.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");
const kdump = (...args: string[]) => Bun.spawnSync([process.execPath, join(ROOT, "kdump.ts"), ...args], { cwd: ROOT, stdin: "ignore", env: { ...process.env, KDUMP_DEBUG: "" } });

describe("service verbs", () => {
  test.each(["start", "stop", "restart", "reload", "rebuild", "enable", "disable", "test", "hotplug"])("kdump %s --help exits 0", (verb) => {
    const r = kdump(verb, "--help");
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString()).toContain(`kdump ${verb}`);
  });

  test("kdump rebuild --remove without --release is one line and exit 2", () => {
    const r = kdump("rebuild", "--remove");
    expect(r.exitCode).toBe(2);
    expect(r.stderr.toString()).toBe("kdump: --remove needs --release: name the removed kernel's release\n");
  });

  test("kdump test refuses without a loaded capture kernel or a terminal, in one line, and exit 1", () => {
    const r = kdump("test");
    expect(r.exitCode).toBe(1);
    expect(r.stderr.toString()).toMatch(/^kdump: refusing to (test: no capture kernel is loaded|crash \S+ now to test the capture without confirmation)/);
  });

  test("kdump status --json carries the service's part", () => {
    const s = JSON.parse(kdump("status", "--json").stdout.toString());
    expect(Object.keys(s.service).sort()).toEqual(["armedBy", "config", "hotplug", "lastCrash", "lastTest", "others", "prepared", "stale", "unit"]);
  });
});
