// Load, trigger and kexec for real, in QEMU guests of Debian 6.1 and 6.12 (1 GiB, 2 CPUs, root on a virtio disk):
// the recipes load our capture kernel, a sysrq crash boots it, our initramfs saves a complete dump the next boot
// sees; `kdump exec` boots a staged kernel; the error paths end with one line and a non-zero exit.
import { describe, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bootInitramfs } from "../../lib/lab/bootinitrd.ts";
import { analyze } from "../../lib/analyze/command.ts";
import { fetchKernel } from "../../lib/lab/kernels.ts";
import { guestCopy, runGuest } from "../../lib/lab/qemu.ts";
import { errorBefore, expectTriggerRefused, printed } from "./_console.ts";

describe.each(["6.1", "6.12"])("load and trigger on Debian %s", (line) => {
  test("recipes/load.ts loads, recipes/trigger.ts --yes crashes, our initramfs saves a complete dump the next boot sees", async () => {
    const kernel = await fetchKernel(line);
    const job = `
if [ "$LAB_BOOT" = 1 ]; then
  bunx kdump recipes/load.ts; echo "RC-LOAD=$?"
  echo "CRASH-LOADED=$(cat /sys/kernel/kexec_crash_loaded)"
  sync
  bunx kdump recipes/trigger.ts --yes
  echo "LAB-ERROR trigger returned"; exit 98
fi
for f in /var/crash/*/vmcore; do echo "SEEN=$f $(stat -c '%s %a' "$f") $(stat -c %a "$(dirname "$f")")"; done
`;
    const r = await runGuest({ kernel, job, cmdline: "crashkernel=256M", cpus: 2, memoryMiB: 1024, boots: 2, timeoutSeconds: 900 });
    const out = mkdtempSync(join(tmpdir(), "kdump-lab-load-"));
    try {
      expect(printed(r, "RC-LOAD")).toBe("0");
      expect(printed(r, "CRASH-LOADED")).toBe("1");
      expect(r.console).toContain("sysrq triggered crash");
      expect(r.console).toContain("kdump-capture: saved by the collector");
      expect(r.kernelBoots).toBe(3); // crashed kernel, capture kernel, next boot
      expect(r.exits).toEqual([{ boot: 2, code: 0 }]);
      const [path, size, mode, dirMode] = printed(r, "SEEN")!.split(" ");
      expect([mode, dirMode]).toEqual(["600", "700"]);
      const copy = join(out, "vmcore");
      await guestCopy(r.rootImage, path!, copy);
      expect(statSync(copy).size).toBe(Number(size));
      // the collector's default output: kdump-compressed (-d 31, zstd), its header saying complete (status bit 0x8 clear)
      const head = Buffer.alloc(1 << 20);
      const fd = openSync(copy, "r");
      readSync(fd, head, 0, head.length, 0);
      closeSync(fd);
      expect(head.subarray(0, 8).toString("latin1")).toBe("KDUMP   ");
      expect(head.readUInt32LE(424) & 0x8).toBe(0);
      expect(head.toString("latin1")).toContain(`OSRELEASE=${kernel.release}\n`);
      expect(String(analyze(copy, "log"))).toContain("sysrq: Trigger a crash");
    } finally {
      rmSync(out, { recursive: true, force: true });
      r.cleanup();
    }
  }, 900_000);

  test("a reservation too small, a non-kernel file and trigger with nothing loaded fail in one line; load --kexec + exec --yes boots the staged kernel", async () => {
    const kernel = await fetchKernel(line);
    const job = `
if [ "$LAB_BOOT" = 1 ]; then
  echo "STEP load"; kdump load; echo "RC-LOAD=$?"
  echo "STEP trigger"; kdump trigger --yes; echo "RC-TRIGGER=$?"
  echo "STEP enoexec"; kdump load --kexec --kernel /etc/hostname; echo "RC-ENOEXEC=$?"
  echo "STEP kexec"; kdump load --kexec --initrd /lab/exec.cpio --append kdump.lab=staged; echo "RC-KEXEC=$?"
  echo "KEXEC-LOADED=$(cat /sys/kernel/kexec_loaded)"
  kdump exec --yes; echo "RC-EXEC=$?"; exit 97
fi
echo "CMDLINE=$(cat /proc/cmdline)"
`;
    // the staged kernel boots the lab's own boot initramfs, which runs this same job with LAB_BOOT=2
    const exec = await bootInitramfs(kernel, job);
    const r = await runGuest({ kernel, job, cmdline: "crashkernel=48M", boots: 2, timeoutSeconds: 600, rootfs: { files: { "/lab/exec.cpio": exec } } });
    try {
      expect(printed(r, "RC-LOAD")).toBe("1");
      expect(errorBefore(r, "LOAD")).toEqual([expect.stringMatching(/^kdump: kexec_file_load failed with EADDRNOTAVAIL \(99\): .* does not fit the reservation: .* 48 MiB reserved: raise crashkernel= to at least \d+M/)]);
      expect(printed(r, "RC-TRIGGER")).toBe("1");
      expect(errorBefore(r, "TRIGGER")).toEqual([expect.stringMatching(/^kdump: refusing to crash: no capture kernel is loaded/)]);
      expect(r.console).not.toContain("sysrq triggered crash");
      expect(printed(r, "RC-ENOEXEC")).toBe("1");
      expect(errorBefore(r, "ENOEXEC")).toEqual([expect.stringMatching(/^kdump: kexec_file_load failed with ENOEXEC \(8\): \/etc\/hostname is not a kernel image/)]);
      expect(printed(r, "RC-KEXEC")).toBe("0");
      expect(printed(r, "KEXEC-LOADED")).toBe("1");
      expect(r.console).toContain("kexec_core: Starting new kernel"); // a kexec jump, not a firmware reset
      expect(r.kernelBoots).toBe(2);
      expect(printed(r, "CMDLINE")!.split(" ")).toContain("kdump.lab=staged");
      expect(r.exits).toEqual([{ boot: 2, code: 0 }]);
    } finally {
      r.cleanup();
    }
  }, 600_000);

  test("booted without crashkernel=, kdump load fails in one line and trigger refuses without crashing", async () => {
    const kernel = await fetchKernel(line);
    const job = `
echo "STEP load"; kdump load; echo "RC-LOAD=$?"
echo "STEP trigger"; kdump trigger --yes; echo "RC-TRIGGER=$?"
`;
    const r = await runGuest({ kernel, job, timeoutSeconds: 300 });
    try {
      expect(printed(r, "RC-LOAD")).toBe("1");
      expect(errorBefore(r, "LOAD")).toEqual([expect.stringMatching(/^kdump: kexec_file_load failed with EADDRNOTAVAIL \(99\): no memory is reserved for a capture kernel: boot with crashkernel=/)]);
      expectTriggerRefused(r);
    } finally {
      r.cleanup();
    }
  }, 300_000);
});
