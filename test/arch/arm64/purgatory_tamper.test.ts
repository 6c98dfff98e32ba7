// The arm64 purgatory refusing a corrupted capture image, in an arm64 guest (qemu-system-aarch64 -machine virt -cpu
// max, TCG, Debian's arm64 cloud kernels): our `load` (kexec_load: these kernels have no KEXEC_FILE) with the lab-only
// KDUMP_LAB_TAMPER_SEGMENT=elfcorehdr inverts the core header's last byte after its SHA-256 was taken, so the copy
// in the reservation no longer matches; trigger --yes crashes, and the purgatory must print its refusal on the PL011
// and never start the capture kernel. The byte is harmless to a kernel (zero padding after the last program header,
// which no reader looks at): without the check the capture kernel would boot, and this test would fail. The untampered
// case is pipeline.test.ts.
import { describe, expect, test } from "bun:test";
import { fetchKernel } from "../../../lib/lab/kernels.ts";
import { runGuest } from "../../../lib/lab/qemu.ts";
import { errorBefore, printed } from "../../lab/_console.ts";
import { MATRIX } from "../../_matrix.ts";

const REFUSED = "kdump purgatory: sha256 mismatch, not booting";
const job = `
if [ "$LAB_BOOT" = 1 ]; then
  echo "STEP LOAD"; KDUMP_LAB_TAMPER_SEGMENT=elfcorehdr bunx kdump recipes/load.ts; echo "RC-LOAD=$?"
  echo "STEP TRIGGER"; bunx kdump recipes/trigger.ts --yes; echo "RC-TRIGGER=$?"
fi
`;

/** Each line boots one arm64 guest for several minutes under TCG: the matrix runs them. */
describe.if(MATRIX).each(["newest", "6.12"])("a tampered segment in an arm64 %s guest (matrix)", (line) => {
  test(
    "the purgatory prints its sha256 mismatch on the console and the capture kernel never boots",
    async () => {
      const afterCrash = (c: string) => c.slice(Math.max(0, c.indexOf("sysrq: Trigger a crash")));
      const r = await runGuest({
        kernel: await fetchKernel(line, "arm64"),
        job,
        cmdline: "crashkernel=256M",
        cpus: 2,
        memoryMiB: 1024,
        boots: 2,
        timeoutSeconds: 1800,
        // the refused CPU waits in wfe and prints nothing more: stop at the refusal, or at a capture kernel's banner
        until: (c) => c.includes(REFUSED) || (c.includes("sysrq: Trigger a crash") && /Linux version \d/.test(afterCrash(c))),
      });
      const last = r.console.trimEnd().split("\n").slice(-3).join("\n");
      console.log(`arm64 ${line} tampered: guest ran ${r.seconds.toFixed(0)} s, stopped ${r.timedOut ? "by the time limit" : "at the refusal"}; the console ended:\n${last}`);
      try {
        expect(printed(r, "RC-LOAD"), r.console.slice(-4000)).toBe("0");
        expect(errorBefore(r, "LOAD").join("\n")).toContain("inverted the last byte of the elfcorehdr segment after its SHA-256 was taken");
        expect(r.console).toContain("sysrq: Trigger a crash");
        const after = afterCrash(r.console);
        expect(after, after.slice(-3000)).toContain(REFUSED);
        expect(after).not.toContain("sha256 ok");
        expect(after).not.toMatch(/Linux version \d/);
        expect(r.kernelBoots).toBe(1);
      } finally {
        r.cleanup();
      }
    },
    2_400_000,
  );
});
