// The whole pipeline, only through the recipes a user runs, in lab guests of both kernel lines with a root
// filesystem on a virtio disk: load.ts → trigger.ts --yes (or an oops inside a module) → the capture kernel
// collects through our initramfs → the guest boots again → analyze.ts. Each assertion fails if a stage did nothing.
import { describe, expect, test } from "bun:test";
import { fetchKernel } from "../../lib/lab/kernels.ts";
import { rehearse, type RehearseReport } from "../../lib/lab/rehearse.ts";
import { oopsModule } from "../analyze/_oops.ts";

/** Function names of a crash-style bt ("#3 [sp] name at addr [mod]"), in order. */
function frames(r: RehearseReport): string[] {
  return r.bt.map((l) => /#\d+ \[[0-9a-f]+\] (\S+) at/.exec(l)?.[1]).filter((f): f is string => !!f);
}

function explain(r: RehearseReport): string {
  return `${r.reason ?? "passed"}\n${r.phases.map((p) => `${p.name} ${p.seconds}s`).join(", ")}`;
}

describe.each(["6.1", "6.12"])("pipeline on %s", (line) => {
  test(
    "a sysrq crash is loaded, captured, saved and analyzed through the recipes",
    async () => {
      const r = await rehearse({ kernel: await fetchKernel(line), crashkernel: "256M", cpus: 2, timeoutSeconds: 600 });
      expect(r.passed, explain(r)).toBe(true);
      expect(r.phases.map((p) => p.name)).toEqual(["boot", "load", "trigger", "capture", "reboot", "analyze"]);
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
