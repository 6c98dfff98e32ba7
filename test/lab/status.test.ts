// Lab: both Debian kernel lines boot in QEMU with crashkernel=256M and 2 CPUs, and `kdump status --json` inside
// the guest reports the reservation the guest was booted with.
import { describe, expect, test } from "bun:test";
import { fetchKernel } from "../../lib/lab/kernels.ts";
import { runGuest } from "../../lib/lab/qemu.ts";

describe.each(["6.1", "6.12"])("lab guest on %s", (line) => {
  test(
    "kdump status --json in the guest reports crashkernel=256M as 256 MiB reserved",
    async () => {
      const kernel = await fetchKernel(line);
      const r = await runGuest({
        kernel,
        cmdline: "crashkernel=256M",
        cpus: 2,
        job: 'echo "CPUS $(nproc)"; echo JSON-BEGIN; kdump status --json; echo "JSON-END $?"',
      });
      try {
        expect(r.timedOut).toBe(false);
        expect(r.console).toContain(`LAB-BOOT 1 ${kernel.release}`);
        expect(r.console).toContain("CPUS 2");
        const m = /JSON-BEGIN\n([\s\S]*?)\nJSON-END (\d+)/.exec(r.console);
        expect(m).not.toBeNull();
        const s = JSON.parse(m![1]!.split("\n").filter((l) => !/^\[\s*\d+\.\d+\]/.test(l)).join("\n"));
        expect(s.kernel).toBe(kernel.release);
        expect(s.crashkernel).toEqual(["256M"]);
        expect(s.crashSize).toBe(256 * 1024 * 1024);
        expect(s.regions).toHaveLength(1);
        expect(BigInt(s.regions[0].end) - BigInt(s.regions[0].start) + 1n).toBe(256n * 1024n * 1024n);
        expect(s.kexecFile).toBe(true);
        expect(s.crashLoaded).toBe(false);
        expect(s.ready).toBe(false);
        expect(m![2]).toBe("1"); // "not ready" exits non-zero
      } finally {
        r.cleanup();
      }
    },
    180_000,
  );
});
