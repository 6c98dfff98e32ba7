// Our own pipeline inside an arm64 guest (qemu-system-aarch64 -machine virt -cpu max,sve=off,sme=off, TCG, Debian's arm64
// cloud kernels, which have no KEXEC_FILE; 1 GiB): Bun's arm64 build runs recipes/load.ts, whose kexec_file_load fails
// with ENOSYS and falls back (arm64's default syscall choice, "auto") to our arm64 kexec_load layout (Image, initrd,
// elfcorehdr, DTB with a capture /chosen, purgatory); recipes/trigger.ts --yes crashes it; the capture kernel boots
// our initramfs, whose collector saves the dump; the next boot analyzes it. And a box booted without crashkernel=.
import { describe, expect, test } from "bun:test";
import { fetchKernel } from "../../../lib/lab/kernels.ts";
import { runGuest } from "../../../lib/lab/qemu.ts";
import { errorBefore, expectTriggerRefused, printed } from "../../lab/_console.ts";
import { rehearse, type RehearseReport } from "../../../lib/lab/rehearse.ts";
import { MATRIX } from "../../_matrix.ts";

/** Function names of a crash-style bt ("#3 [sp] name at addr"), in order. */
const frames = (r: RehearseReport) => r.bt.map((l) => /#\d+ \[[0-9a-f]+\] (\S+) at/.exec(l)?.[1]).filter((f): f is string => !!f);
const explain = (r: RehearseReport) => `${r.reason ?? "passed"}\n${r.phases.map((p) => `${p.name} ${p.seconds}s`).join(", ")}\n${r.bt.join("\n")}`;

/** Each arm64 boot of our pipeline takes several minutes under TCG: the matrix runs them. */
describe.if(MATRIX).each(["newest", "6.12"])("our pipeline in an arm64 %s guest (matrix)", (line) => {
  test(
    "load (kexec_file_load → ENOSYS → our kexec_load), trigger --yes, capture by our initramfs, analyze: bt names the sysrq crash site",
    async () => {
      const kernel = await fetchKernel(line, "arm64");
      const said: string[] = []; // the guest's own lines (not the kernel's), for the failure message
      const r = await rehearse({
        onLine: (l) => void ((!l.startsWith("[") || /bun|segfault|unhandled|Out of memory|oom/i.test(l)) && said.push(l)),
        kernel,
        crashkernel: "256M",
        cpus: 2,
        memoryMiB: 1024, // at 512 MiB (256 MiB left beside the reservation) the analysis's Bun died in the guest
        timeoutSeconds: 2400,
      });
      console.log(`arm64 ${line}: ${r.phases.map((p) => `${p.name} ${p.seconds}s`).join(", ")}; saved by ${r.savedBy}, ${r.dumpBytes} bytes`);
      expect(r.passed, `${explain(r)}\n${said.slice(-40).join("\n")}`).toBe(true);
      expect(r.phases.map((p) => p.name)).toEqual(["boot", "load", "trigger", "capture", "reboot", "analyze"]);
      expect(said).toContain("kdump purgatory: sha256 ok, starting the capture kernel"); // lib/arch/arm64/purgatory/purgatory.c checked every segment
      // when the dd fallback saved it, the capture kernel's own lines say why the collector did not
      const capture = said.slice(said.findIndex((l) => l.startsWith("kdump purgatory:")), said.findIndex((l) => l.startsWith("LAB-BOOT 2")));
      expect(r.savedBy, capture.slice(-60).join("\n")).toBe("collector");
      expect(r.dumpPath).toMatch(/^\/var\/crash\/lab-\d{4}-\d\d-\d\d-\d\d:\d\d:\d\d\/vmcore$/);
      expect(r.panic.join("\n")).toContain("sysrq: Trigger a crash");
      const f = frames(r);
      expect(f, explain(r)).toContain("sysrq_handle_crash");
      expect(f.indexOf("sysrq_handle_crash")).toBeLessThan(f.indexOf("write_sysrq_trigger"));
    },
    3_000_000,
  );
});

describe("an arm64 guest booted without crashkernel=", () => {
  test(
    "kdump load fails in one line, by default (kexec_file_load, then kexec_load on ENOSYS) and with --syscall file, and trigger refuses without crashing",
    async () => {
      const job = `
echo "STEP FILE"; kdump load --syscall file; echo "RC-FILE=$?"
echo "STEP AUTO"; kdump load; echo "RC-AUTO=$?"
echo "STEP TRIGGER"; kdump trigger --yes; echo "RC-TRIGGER=$?"
`;
      const r = await runGuest({ kernel: await fetchKernel("newest", "arm64"), job, memoryMiB: 512, timeoutSeconds: 900 });
      console.log(`arm64 newest without crashkernel=: guest ran ${r.seconds.toFixed(0)} s`);
      try {
        expect(printed(r, "RC-FILE"), r.console.slice(-3000)).toBe("1");
        expect(errorBefore(r, "FILE")).toEqual([expect.stringMatching(/^kdump: kexec_file_load failed with ENOSYS \(38\): this kernel has no kexec_file_load \(CONFIG_KEXEC_FILE is off\): use the kexec_load path/)]);
        expect(printed(r, "RC-AUTO")).toBe("1");
        expect(errorBefore(r, "AUTO")).toEqual([expect.stringMatching(/^kdump: no crash kernel reservation in \/proc\/iomem.*boot with crashkernel=/)]);
        expectTriggerRefused(r);
      } finally {
        r.cleanup();
      }
    },
    1_200_000,
  );
});
