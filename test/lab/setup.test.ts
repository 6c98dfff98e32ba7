// Issue 7 in the lab: the crashkernel= value setup chooses for a 1 GiB box is put on a guest's command line as
// written (a range list the kernel itself resolves), the kernel reserves what our resolver says, and a crash
// through the recipes is captured and analyzed.
import { expect, test } from "bun:test";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatCrashkernel } from "../../lib/boot/crashkernel.ts";
import { estimate } from "../../lib/boot/setup.ts";
import { fetchKernel } from "../../lib/lab/kernels.ts";
import { rehearse } from "../../lib/lab/rehearse.ts";

test("the value setup chooses for a 1 GiB guest (kdump-utils' 2021 table) captures a crash through the recipes", async () => {
  const root = mkdtempSync(join(tmpdir(), "setup-lab-"));
  mkdirSync(join(root, "proc"));
  // the lab guest's System RAM (1 GiB, as /proc/iomem shows it in a guest)
  writeFileSync(join(root, "proc/iomem"), "00001000-0009fbff : System RAM\n00100000-3ffdffff : System RAM\n");
  const rec = estimate({ root, table: "kdump-utils-x86_64-2021", rehearsal: join(root, "none.json") });
  expect(rec.from).toBe("table");
  const value = formatCrashkernel(rec.value!);
  expect(value).toBe("1G-4G:192M,4G-64G:256M,64G-:512M");
  const r = await rehearse({ kernel: await fetchKernel("6.12"), crashkernel: value, timeoutSeconds: 600 });
  expect(r.passed, `${r.reason}`).toBe(true);
  expect(r.panic.join("\n")).toContain("sysrq: Trigger a crash");
  expect(r.bt.length).toBeGreaterThan(3);
}, 900_000);
