// `kdump exec` and `kdump trigger` in an arm64 guest (qemu-system-aarch64 -machine virt -cpu max,sve=off,sme=off, TCG, Debian's newest
// arm64 cloud kernel, which has no KEXEC_FILE), never on the host: `kdump load --kexec` stages the kernel with our
// arm64 kexec_load layout (lib/arch/arm64/kexec_image.ts) and `kdump exec --yes` reboots into it (arm64's reboot, 142):
// its banner and new command line show. That staged kernel then loads a capture kernel, writes a file and sets the
// domain name, and `kdump trigger --yes` syncs (arm64's sync, 81; x86_64's 162 is setdomainname here) and crashes
// it: after the capture and the reboot, the file is intact and the dump's utsname keeps the domain name.
import { describe, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, readSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bootInitramfs } from "../../../lib/lab/bootinitrd.ts";
import { fetchKernel } from "../../../lib/lab/kernels.ts";
import { guestCopy, runGuest } from "../../../lib/lab/qemu.ts";
import { errorBefore, printed } from "../../lab/_console.ts";
import { MATRIX } from "../../_matrix.ts";

describe.if(MATRIX)("kdump exec and trigger in an arm64 newest guest (matrix)", () => {
  test(
    "load --kexec + exec --yes boots the staged kernel (kexec_load); there a file written before trigger --yes survives the capture and reboot, and the domain name is unchanged",
    async () => {
      const kernel = await fetchKernel("newest", "arm64");
      const job = `
if [ "$LAB_BOOT" = 1 ]; then
  echo "STEP kexec"; kdump load --kexec --initrd /lab/exec.cpio --append kdump.lab=staged; echo "RC-KEXEC=$?"
  echo "KEXEC-LOADED=$(cat /sys/kernel/kexec_loaded)"
  kdump exec --yes; echo "RC-EXEC=$?"; exit 97
fi
if [ "$LAB_BOOT" = 2 ]; then
  echo "CMDLINE=$(cat /proc/cmdline)"
  kdump load; echo "RC-LOAD=$?"
  echo "CRASH-LOADED=$(cat /sys/kernel/kexec_crash_loaded)"
  echo kdump-lab.test > /proc/sys/kernel/domainname
  head -c 4194304 /dev/urandom > /root/marker
  echo "BEFORE=$(sha256sum < /root/marker | cut -d' ' -f1) $(cat /proc/sys/kernel/domainname)"
  kdump trigger --yes; echo "LAB-ERROR trigger returned $?"; exit 98
fi
echo "AFTER=$(sha256sum < /root/marker | cut -d' ' -f1)"
for f in /var/crash/*/vmcore; do echo "SEEN=$f"; done
`;
      // the staged kernel boots the lab's own boot initramfs, which runs this same job with LAB_BOOT=2
      const files = { "/lab/exec.cpio": await bootInitramfs(kernel, job) };
      const r = await runGuest({ kernel, job, cmdline: "crashkernel=256M", cpus: 2, memoryMiB: 1024, boots: 3, timeoutSeconds: 2400, rootfs: { files } });
      console.log(`arm64 exec + trigger: guest ran ${r.seconds.toFixed(0)} s, ${r.kernelBoots} kernel boots`);
      const out = mkdtempSync(join(tmpdir(), "kdump-arm64-exec-"));
      try {
        // exec: our kexec_load staging, then a kexec jump (not a firmware reset) into a kernel with the new command line
        expect(printed(r, "RC-KEXEC"), `${errorBefore(r, "KEXEC").join("\n")}\n${r.console.slice(-3000)}`).toBe("0");
        expect(printed(r, "KEXEC-LOADED")).toBe("1");
        expect(r.console).toContain("kexec_core: Starting new kernel");
        const banners = r.console.split("\n").filter((l) => /Linux version \d/.test(l));
        expect(banners.length, r.console.slice(-3000)).toBeGreaterThanOrEqual(2);
        expect(banners[1]).toContain(kernel.release);
        expect(printed(r, "CMDLINE")!.split(" ")).toContain("kdump.lab=staged");
        // trigger from the staged kernel: capture, reboot
        expect(printed(r, "RC-LOAD"), r.console.slice(-3000)).toBe("0");
        expect(printed(r, "CRASH-LOADED")).toBe("1");
        expect(r.console).toContain("sysrq: Trigger a crash");
        expect(r.console).toContain("kdump-capture: saved by the collector");
        expect(r.kernelBoots).toBe(4); // booted, staged (exec), capture, rebooted
        expect(r.exits).toEqual([{ boot: 3, code: 0 }]);
        const [sum, domain] = printed(r, "BEFORE")!.split(" ");
        expect(domain).toBe("kdump-lab.test");
        expect(printed(r, "AFTER")).toBe(sum);
        // the crashed kernel's utsname, as the collector wrote it into the kdump-compressed header (new_utsname at 12)
        const copy = join(out, "vmcore");
        await guestCopy(r.rootImage, printed(r, "SEEN")!, copy);
        const head = Buffer.alloc(4096);
        const fd = openSync(copy, "r");
        readSync(fd, head, 0, head.length, 0);
        closeSync(fd);
        const uts = (i: number) => head.subarray(12 + 65 * i, 12 + 65 * (i + 1)).toString("latin1").replace(/\0.*$/s, "");
        expect(head.subarray(0, 8).toString("latin1")).toBe("KDUMP   ");
        expect([uts(2), uts(4), uts(5)]).toEqual([kernel.release, "aarch64", "kdump-lab.test"]);
      } finally {
        rmSync(out, { recursive: true, force: true });
        r.cleanup();
      }
    },
    3_000_000,
  );
});
