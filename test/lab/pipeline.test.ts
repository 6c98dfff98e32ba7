// The whole pipeline, only through the recipes a user runs, in lab guests of both kernel lines with a root
// filesystem on a virtio disk: load.ts → trigger.ts --yes (or an oops inside a module) → the capture kernel
// collects through our initramfs → the guest boots again → analyze.ts. Each assertion fails if a stage did nothing.
// On 6.12 the reservation is the one `kdump setup` chooses for a 1 GiB box (issue 7), written as the range list the
// kernel itself resolves.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatCrashkernel } from "../../lib/boot/crashkernel.ts";
import { estimate } from "../../lib/boot/setup.ts";
import { fetchKernel } from "../../lib/lab/kernels.ts";
import { rehearse, type RehearseReport } from "../../lib/lab/rehearse.ts";
import { oopsModule } from "../analyze/_oops.ts";
import { NEW_LINES } from "../dump/_peers.ts";
import { MATRIX } from "../_matrix.ts";

/** Function names of a crash-style bt ("#3 [sp] name at addr [mod]"), in order. */
function frames(r: RehearseReport): string[] {
  return r.bt.map((l) => /#\d+ \[[0-9a-f]+\] (\S+) at/.exec(l)?.[1]).filter((f): f is string => !!f);
}

function explain(r: RehearseReport): string {
  return `${r.reason ?? "passed"}\n${r.phases.map((p) => `${p.name} ${p.seconds}s`).join(", ")}`;
}

/** The crashkernel= `kdump setup` picks from kdump-utils' 2021 table for the lab guest's 1 GiB of System RAM. */
function setupValue(): string {
  const root = mkdtempSync(join(tmpdir(), "setup-lab-"));
  try {
    mkdirSync(join(root, "proc"));
    writeFileSync(join(root, "proc/iomem"), "00001000-0009fbff : System RAM\n00100000-3ffdffff : System RAM\n");
    const rec = estimate({ root, table: "kdump-utils-x86_64-2021", rehearsal: join(root, "none.json") });
    expect(rec.from).toBe("table");
    return formatCrashkernel(rec.value!);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

describe.each(["6.1", "6.12"])("pipeline on %s", (line) => {
  test(
    `a sysrq crash is loaded, captured, saved and analyzed through the recipes (crashkernel=${line === "6.12" ? "as setup chooses" : "256M"})`,
    async () => {
      const crashkernel = line === "6.12" ? setupValue() : "256M";
      if (line === "6.12") expect(crashkernel).toBe("1G-4G:192M,4G-64G:256M,64G-:512M");
      const r = await rehearse({ kernel: await fetchKernel(line), crashkernel, cpus: 2, timeoutSeconds: 600 });
      expect(r.passed, explain(r)).toBe(true);
      expect(r.phases.map((p) => p.name)).toEqual(["boot", "load", "trigger", "capture", "reboot", "analyze"]);
      // our collector saved it, not the busybox dd fallback (which saves an unfiltered copy and passes the rest)
      expect(r.savedBy, explain(r)).toBe("collector");
      expect(r.dumpPath).toMatch(/^\/var\/crash\/lab-\d{4}-\d\d-\d\d-\d\d:\d\d:\d\d\/vmcore$/);
      expect(r.dumpBytes).toBeGreaterThan(1 << 20);
      expect(r.panic.join("\n")).toContain("sysrq: Trigger a crash");
      const f = frames(r);
      expect(f).toContain("sysrq_handle_crash");
      expect(f.indexOf("sysrq_handle_crash")).toBeLessThan(f.indexOf("write_sysrq_trigger"));
    },
    900_000,
  );

  test(
    "an oops inside a module is captured and its bt names the module",
    async () => {
      const r = await rehearse({
        kernel: await fetchKernel(line),
        crashkernel: "256M",
        files: { "/lab/oops.ko": await oopsModule(line) },
        crash: "insmod /lab/oops.ko mode=init; sleep 20",
        timeoutSeconds: 600,
      });
      expect(r.passed, explain(r)).toBe(true);
      expect(r.panic.join("\n")).toMatch(/BUG: kernel NULL pointer dereference|Oops:/);
      expect(r.bt.some((l) => /\[oops\]/.test(l)), r.bt.join("\n")).toBe(true);
    },
    900_000,
  );
});

// 5.10 (bullseye) and the newest sid kernel (7.x, installed in kernel-install's /usr/lib/modules/R/vmlinuz layout,
// nothing in /boot): our load finds the kernel there, and the rest of the pipeline runs as on 6.x.
describe.each(NEW_LINES)("pipeline on %s", (line) => {
  test(
    "a sysrq crash is loaded, captured, saved (collect -d 31) and analyzed through the recipes",
    async () => {
      const kernel = await fetchKernel(line);
      const r = await rehearse({ kernel, crashkernel: "256M", cpus: 2, timeoutSeconds: 600 });
      expect(r.passed, explain(r)).toBe(true);
      expect(r.phases.map((p) => p.name)).toEqual(["boot", "load", "trigger", "capture", "reboot", "analyze"]);
      expect(r.savedBy, explain(r)).toBe("collector");
      expect(r.dumpBytes).toBeGreaterThan(1 << 20);
      expect(r.panic.join("\n")).toContain("sysrq: Trigger a crash");
      const f = frames(r);
      expect(f.indexOf("sysrq_handle_crash")).toBeGreaterThanOrEqual(0);
      expect(f.indexOf("sysrq_handle_crash")).toBeLessThan(f.indexOf("write_sysrq_trigger"));
    },
    900_000,
  );

  // the default run crashes each new line once; the oops through our pipeline is a matrix case
  test.skipIf(!MATRIX)(
    "an oops inside a module is captured through our pipeline and its bt names the module (matrix)",
    async () => {
      const r = await rehearse({
        kernel: await fetchKernel(line),
        crashkernel: "256M",
        files: { "/lab/oops.ko": await oopsModule(line) },
        crash: "insmod /lab/oops.ko mode=init; sleep 20",
        timeoutSeconds: 600,
      });
      expect(r.passed, explain(r)).toBe(true);
      expect(r.panic.join("\n")).toMatch(/BUG: kernel NULL pointer dereference|Oops:/);
      expect(r.bt.some((l) => /\[oops\]/.test(l)), r.bt.join("\n")).toBe(true);
    },
    900_000,
  );
});
