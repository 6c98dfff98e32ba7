// recipes/load.ts --dry-run on this machine, run as a user would: it plans Debian's 6.1 kernel with our initramfs
// and loads nothing (the real load is in test/lab/load.test.ts; no test ever loads a kernel on this host).
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fetchKernel } from "../../lib/lab/kernels.ts";

const ROOT = join(import.meta.dir, "..", "..");
const cache = mkdtempSync(join(tmpdir(), "recipe-load-"));
afterAll(() => rmSync(cache, { recursive: true, force: true }));

test("recipes/load.ts --dry-run prints the plan, builds the initramfs into --cache-dir and exits 0", async () => {
  const k = await fetchKernel("6.1");
  const r = Bun.spawnSync(
    [process.execPath, join(ROOT, "kdump.ts"), join(ROOT, "recipes/load.ts"), "--dry-run", "--kernel", k.vmlinuz, "--modules-dir", k.modulesDir, "--cache-dir", cache],
    { cwd: ROOT, stdin: "ignore" },
  );
  const out = r.stdout.toString();
  expect(r.exitCode).toBe(0);
  expect(out).toContain(`kernel:      ${k.vmlinuz} (${k.release}`);
  expect(out).toMatch(/cmdline: .* nr_cpus=1 /);
  expect(out).toMatch(/memory: +[\d.]+ MiB to load, ~[\d.]+ MiB to capture/);
  expect(out).not.toMatch(/^loaded in/m);
  expect(readdirSync(cache).filter((f) => f.endsWith(".img"))).toHaveLength(1);
  expect(existsSync("/sys/kernel/kexec_crash_loaded") ? (await Bun.file("/sys/kernel/kexec_crash_loaded").text()).trim() : "0").toBe("0");
}, 300_000);
