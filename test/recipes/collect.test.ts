// recipes/collect.ts, run as a user would on a dump file (no guest): it saves the dump and reads back what it wrote.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sysrqDump } from "../dump/_peers.ts";

const ROOT = join(import.meta.dir, "..", "..");
const recipe = (...args: string[]) =>
  Bun.spawnSync([process.execPath, join(ROOT, "kdump.ts"), join(ROOT, "recipes/collect.ts"), ...args], { cwd: ROOT, env: { ...process.env, KDUMP_DEBUG: "" } });
const tmp = mkdtempSync(join(tmpdir(), "kdump-recipe-collect-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("recipes/collect.ts", () => {
  test("saves a dump file into <out>/<host>-<date>/vmcore and prints the report read back from what it wrote", async () => {
    const { vmcore } = await sysrqDump("6.1");
    const out = join(tmp, "crash");
    const r = recipe("--from", vmcore, "--out", out, "--compress", "zlib");
    const text = r.stdout.toString();
    expect(r.exitCode).toBe(0);
    const [dir] = readdirSync(out);
    expect(dir).toMatch(/^lab-\d{4}-\d\d-\d\d-\d\d:\d\d:\d\d$/); // the ':' that fooled the old check
    const saved = join(out, dir!, "vmcore");
    expect(text).toContain(`saved ${saved} (kdump, zlib, -d 31)`);
    // the report comes from the saved copy, not the input
    expect(text).toContain(`DUMPFILE: ${saved}  [kdump]`);
    expect(text).toContain('PANIC: "sysrq triggered crash"');
  }, 120_000);

  test("says it did not read back a dump written to stdout", async () => {
    const { vmcore } = await sysrqDump("6.1");
    const r = recipe("--from", vmcore, "--out", "-");
    expect(r.stderr.toString()).toContain("saved stdout (flat, zstd, -d 31)");
    expect(r.stderr.toString()).toContain("not read back: stdout is not a file on this machine");
    expect(r.exitCode).toBe(0);
    expect(r.stdout.subarray(0, 12).toString()).toBe("makedumpfile"); // the flattened stream, and only it
    expect(r.stdout.toString()).not.toContain("not read back");
  }, 120_000);
});
