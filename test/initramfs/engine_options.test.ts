// The capture init's engine options: the Bun this project runs takes each one (it refuses a BUN_JSC_ name it does
// not know, so a misspelt option would stop the collector from starting), the init's line keeps a value already
// set, and it comes before the pre hooks and the collector. Its effect on capture time and memory is measured by
// bench/scale.ts (`--ours-env BUN_JSC_useFTLJIT=1` runs a row with the FTL tier).
import { expect, test } from "bun:test";
import { $ } from "bun";
import { ENGINE_OPTIONS, engineOptionsStep } from "../../lib/initramfs/engine_options.ts";
import { captureInit } from "../../lib/initramfs/init.ts";

test("this Bun takes every option: BUN_JSC_dumpOptions shows useFTLJIT=false, and the collector starts", async () => {
  const r = await $`${process.execPath} -e 1`.env({ ...process.env, ...ENGINE_OPTIONS, BUN_JSC_dumpOptions: "1" }).quiet().nothrow();
  expect(r.exitCode).toBe(0);
  expect(r.stderr.toString() + r.stdout.toString()).toMatch(/^\s*useFTLJIT=false \(default: true\)$/m);
  const help = await $`${process.execPath} ${import.meta.dir}/../../lib/collect/main.ts collect --help`.env({ ...process.env, ...ENGINE_OPTIONS }).quiet().nothrow();
  expect(help.exitCode).toBe(0);
  expect(help.stdout.toString()).toContain("--from");
});

test("the init's line sets each option unless the environment already does", async () => {
  const show = `${engineOptionsStep()}\nprintf '%s' "$BUN_JSC_useFTLJIT"`;
  expect(await $`busybox sh -c ${show}`.env({ PATH: process.env.PATH! }).text()).toBe("0");
  expect(await $`busybox sh -c ${show}`.env({ PATH: process.env.PATH!, BUN_JSC_useFTLJIT: "1" }).text()).toBe("1");
});

test("captureInit() sets them before the pre hooks and the collector", () => {
  const s = captureInit({ modules: [], target: "/var/crash", bun: "/usr/local/bin/bun", kdump: "/opt/kdump/kdump.ts", rootWaitSeconds: 30 });
  const at = s.indexOf(engineOptionsStep());
  expect(at).toBeGreaterThan(0);
  expect(at).toBeLessThan(s.indexOf("for h in $PRE_HOOKS"));
  expect(at).toBeLessThan(s.indexOf('"$COLLECTOR" collect'));
});
