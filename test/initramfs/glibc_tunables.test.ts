// The capture init's glibc tunable: glibc takes the value (a misspelt tunable would be ignored without a word), and
// the init's line sets it before the hooks and the collector, only on an AMD CPU. Its effect on capture time is
// measured by bench/scale.ts (a row with `--ours-env GLIBC_TUNABLES=` runs without it).
import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { $ } from "bun";
import { glibcTunablesStep, NO_REP_STRING_OPS } from "../../lib/initramfs/glibc_tunables.ts";
import { captureInit } from "../../lib/initramfs/init.ts";

const LD_SO = "/lib64/ld-linux-x86-64.so.2";

test.skipIf(process.arch !== "x64" || !existsSync(LD_SO))("this system's glibc takes the tunable: rep_stosb and rep_movsb thresholds become SIZE_MAX", async () => {
  const r = await $`${LD_SO} --list-diagnostics`.env({ GLIBC_TUNABLES: NO_REP_STRING_OPS }).quiet().nothrow();
  // --list-diagnostics came with glibc 2.33; an older loader cannot say
  if (r.exitCode !== 0) return void console.log(`${LD_SO} --list-diagnostics: exit ${r.exitCode}, not checked`);
  expect(r.stdout.toString()).toContain("x86.cpu_features.rep_stosb_threshold=0xffffffffffffffff");
  expect(r.stdout.toString()).toContain("x86.cpu_features.rep_movsb_threshold=0xffffffffffffffff");
});

test("the init's line exports the tunable on an AMD CPU only, after any value already set", async () => {
  const run = async (cpuinfo: string, before?: string) => {
    const line = glibcTunablesStep().replaceAll("/proc/cpuinfo", "$CPUINFO");
    const r = await $`busybox sh -c ${`${line}\nprintf '%s' "$GLIBC_TUNABLES"`}`.env({ CPUINFO: cpuinfo, ...(before ? { GLIBC_TUNABLES: before } : {}) }).quiet().nothrow();
    return r.stdout.toString();
  };
  const dir = (await $`mktemp -d`.text()).trim();
  try {
    await Bun.write(`${dir}/amd`, "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 15\n");
    await Bun.write(`${dir}/intel`, "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\n");
    expect(await run(`${dir}/amd`)).toBe(NO_REP_STRING_OPS);
    expect(await run(`${dir}/amd`, "glibc.malloc.check=0")).toBe(`glibc.malloc.check=0:${NO_REP_STRING_OPS}`);
    expect(await run(`${dir}/intel`)).toBe("");
    expect(await run(`${dir}/missing`)).toBe("");
  } finally {
    await $`rm -rf ${dir}`.quiet();
  }
});

test("captureInit() sets it before the pre hooks, so the hooks and the collector run with it", () => {
  const s = captureInit({ modules: [], target: "/var/crash", bun: "/usr/local/bin/bun", kdump: "/opt/kdump/kdump.ts", rootWaitSeconds: 30 });
  const at = s.indexOf(glibcTunablesStep());
  expect(at).toBeGreaterThan(0);
  expect(at).toBeLessThan(s.indexOf("for h in $PRE_HOOKS"));
  expect(at).toBeLessThan(s.indexOf('"$COLLECTOR" collect'));
});
