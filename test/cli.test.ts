import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..");
const kdump = (...args: string[]) => Bun.spawnSync([process.execPath, join(ROOT, "kdump.ts"), ...args], { cwd: ROOT, env: { ...process.env, KDUMP_DEBUG: "" } });

describe("kdump CLI", () => {
  test("--help lists the verbs and exits 0", () => {
    const r = kdump("--help");
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString()).toContain("kdump status");
  });

  test("an unknown verb is one line on stderr and exit 2", () => {
    const r = kdump("frobnicate");
    expect(r.exitCode).toBe(2);
    expect(r.stderr.toString()).toContain("kdump: Unknown argument: frobnicate");
    expect(r.stderr.toString()).not.toContain("    at ");
  });

  test("status on this machine (no crash reservation) prints a truthful not-ready verdict and exits 1", () => {
    const cmdline = require("node:fs").readFileSync("/proc/cmdline", "utf8");
    const r = kdump("status");
    const out = r.stdout.toString();
    if (cmdline.includes("crashkernel=")) {
      expect(out).toMatch(/^(ready|not ready):/m);
    } else {
      expect(r.exitCode).toBe(1);
      expect(out).toContain("not ready: no crashkernel=");
    }
  });

  test("status --json is parseable and agrees with /proc/cmdline", () => {
    const r = kdump("status", "--json");
    const s = JSON.parse(r.stdout.toString());
    expect(s.kernel).toBe(require("node:fs").readFileSync("/proc/sys/kernel/osrelease", "utf8").trim());
    expect(typeof s.verdict).toBe("string");
  });

  test("a recipe runs with zx's $ and argv in scope and imports the library as kdump", () => {
    const dir = mkdtempSync(join(ROOT, ".lab-recipe-"));
    try {
      const recipe = join(dir, "r.ts");
      writeFileSync(
        recipe,
        `import { crashkernelArgs } from "kdump";\nconst out = await $\`echo \${argv.word}\`;\nconsole.log("got", out.stdout.trim(), crashkernelArgs("crashkernel=" + argv.size).join());\n`,
      );
      const r = kdump(recipe, "--word", "hello world", "--size", "256M");
      expect(r.stderr.toString()).toContain("$ echo $'hello world'"); // a runbook shows each command before it runs
      expect(r.stdout.toString()).toContain("got hello world 256M");
      expect(r.exitCode).toBe(0);
    } finally {
      require("node:fs").rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a missing recipe file is a one-line error and exit 2", () => {
    const r = kdump("recipes/does-not-exist.ts");
    expect(r.exitCode).toBe(2);
    expect(r.stderr.toString().trim().split("\n")).toHaveLength(1);
  });
});
