import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kernelHookText, kernelInstallText, udevRuleText, unitText } from "../../lib/service/unit.ts";

let dir: string;
afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

/** A stand-in for Bun that records its arguments and exits with `code`. */
function fakeBun(code: number): { bun: string; kdump: string; calls: () => string } {
  dir = mkdtempSync(join(tmpdir(), "kdump-hook-"));
  const bun = join(dir, "bun");
  writeFileSync(bun, `#!/bin/sh\necho "$@" >> ${dir}/calls\nexit ${code}\n`, { mode: 0o755 });
  return { bun, kdump: "/opt/kdump/kdump.ts", calls: () => readFileSync(join(dir, "calls"), "utf8") };
}

function runHook(text: string, args: string[]): { code: number; stderr: string } {
  const hook = join(dir, "hook");
  writeFileSync(hook, text, { mode: 0o755 });
  const r = Bun.spawnSync(["sh", hook, ...args], { stderr: "pipe" });
  return { code: r.exitCode ?? -1, stderr: r.stderr.toString() };
}

describe("installed files", () => {
  test("the postinst.d hook prepares the new kernel's capture image (run-parts passes the version, then the image)", () => {
    const c = fakeBun(0);
    expect(runHook(kernelHookText(c, false), ["6.12.117+deb12-cloud-amd64", "/boot/vmlinuz-6.12.117+deb12-cloud-amd64"]).code).toBe(0);
    expect(c.calls()).toBe("/opt/kdump/lib/service/main.ts rebuild --release 6.12.117+deb12-cloud-amd64\n");
  });

  test("the postrm.d hook forgets a removed kernel's image", () => {
    const c = fakeBun(0);
    runHook(kernelHookText(c, true), ["6.1.0-57-cloud-amd64"]);
    expect(c.calls()).toBe("/opt/kdump/lib/service/main.ts rebuild --release 6.1.0-57-cloud-amd64 --remove\n");
  });

  test("a failing rebuild never fails the package installation, and says what to run", () => {
    const c = fakeBun(1);
    const r = runHook(kernelHookText(c, false), ["6.12.117+deb12-cloud-amd64"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("kdump: could not prepare the capture image of 6.12.117+deb12-cloud-amd64: run 'kdump rebuild --release 6.12.117+deb12-cloud-amd64'\n");
  });

  test("the kernel-install plugin prepares on add and forgets on remove", () => {
    const c = fakeBun(0);
    runHook(kernelInstallText(c), ["add", "6.12.1", "/boot/efi/x", "/boot/vmlinuz-6.12.1"]);
    runHook(kernelInstallText(c), ["remove", "6.12.1", "/boot/efi/x"]);
    expect(c.calls()).toBe("/opt/kdump/lib/service/main.ts rebuild --release 6.12.1\n/opt/kdump/lib/service/main.ts rebuild --release 6.12.1 --remove\n");
  });

  test("the unit orders after local-fs.target and the udev rule watches CPU and memory", () => {
    const c = { bun: "/usr/local/bin/bun", kdump: "/opt/kdump/kdump.ts" };
    expect(unitText(c)).toMatch(/^After=local-fs.target$/m);
    expect(unitText(c)).toMatch(/^Type=oneshot$/m);
    expect(unitText(c)).toMatch(/^RemainAfterExit=yes$/m);
    expect(udevRuleText(c)).toContain('SUBSYSTEM=="cpu", ACTION=="remove|online|offline", RUN+="/usr/local/bin/bun /opt/kdump/lib/service/main.ts hotplug"');
    expect(udevRuleText(c)).toContain('SUBSYSTEM=="memory"');
  });
});
