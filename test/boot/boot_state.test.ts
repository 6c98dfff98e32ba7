import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { bootState } from "../../lib/boot/boot_state.ts";
import { formatStatus, readStatus } from "../../lib/boot/status.ts";
import { debianGrubDefaults } from "./fixtures.ts";

const M = 2 ** 20;
const KDUMP = join(import.meta.dir, "..", "..", "kdump.ts");

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "state-"));
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), text);
  }
  return root;
}

describe("configured versus active", () => {
  test("status says reboot needed when the boot loader has crashkernel= and /proc/cmdline does not", async () => {
    const grub = (await debianGrubDefaults()).replace('GRUB_CMDLINE_LINUX=""', 'GRUB_CMDLINE_LINUX="crashkernel=256M"');
    const root = tree({ "/etc/default/grub": grub, "/proc/cmdline": "BOOT_IMAGE=/vmlinuz root=/dev/vda1 ro quiet\n", "/proc/sys/kernel/osrelease": "6.1.0-56-cloud-amd64\n" });
    try {
      const s = readStatus({ root });
      expect(s.configured).toEqual(["256M"]);
      expect(s.pending).toBe("reboot needed: the boot loader passes crashkernel=256M; this kernel booted with none");
      expect(s.verdict).toBe(`not ready: ${s.pending}`);
      expect(formatStatus(s)).toContain("configured:         crashkernel=256M\nreboot needed:");
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test("nothing pending when both agree; pending removal after --remove", () => {
    const root = tree({ "/etc/default/grub": 'GRUB_CMDLINE_LINUX="crashkernel=2G-64G:256M,64G-:512M"\n' });
    try {
      expect(bootState(root, "ro crashkernel=2G-64G:256M,64G-:512M", 256 * M).pending).toBeNull();
      writeFileSync(join(root, "etc/default/grub"), 'GRUB_CMDLINE_LINUX=""\n');
      expect(bootState(root, "ro crashkernel=256M", 256 * M).pending).toBe("reboot needed: the boot loader passes no crashkernel=; this kernel booted with crashkernel=256M");
      expect(bootState(join(root, "nowhere"), "ro", null).configured).toBeNull();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test("offers to shrink a reservation larger than the rehearsal's minimum plus 25%, and only then", () => {
    const box = { release: "6.1.0-56-cloud-amd64", ram: 1023.6 * M };
    const result = (over: object) => JSON.stringify({ minimum: "160M", path: "collector", kernel: box.release, memoryMiB: 1024, ...over });
    const root = tree({
      "/etc/default/grub": 'GRUB_CMDLINE_LINUX="crashkernel=512M"\n',
      "/r.json": result({}),
      "/other-kernel.json": result({ kernel: "6.12.117+deb12-cloud-amd64" }),
      "/other-ram.json": result({ memoryMiB: 4096 }),
      "/dd.json": result({ path: "dd" }),
    });
    try {
      const s = bootState(root, "crashkernel=512M", 512 * M, join(root, "r.json"), box);
      expect(s.shrink).toEqual({ to: 208 * M, command: `kdump shrink 208M --yes   (or: echo ${208 * M} > /sys/kernel/kexec_crash_size)` });
      expect(bootState(root, "crashkernel=512M", 208 * M, join(root, "r.json"), box).shrink).toBeNull();
      expect(bootState(root, "crashkernel=512M", 512 * M, join(root, "absent.json"), box).shrink).toBeNull();
      // Issue 12: another kernel's, another RAM size's or a dd-fallback rehearsal is no reason to shrink.
      for (const f of ["other-kernel.json", "other-ram.json", "dd.json"]) expect([f, bootState(root, "crashkernel=512M", 512 * M, join(root, f), box).shrink]).toEqual([f, null]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

// A scratch /sys stands in for the kernel's: the verb is never run against this machine's /sys in tests.
describe("kdump shrink", () => {
  const run = async (root: string, args: string[]) => {
    const r = await Bun.$`${process.execPath} ${KDUMP} shrink ${args} --root ${root}`.quiet().nothrow();
    return { code: r.exitCode, err: r.stderr.toString(), out: r.stdout.toString() };
  };
  test("refuses without --yes, refuses to grow or while loaded, and writes the new size with --yes", async () => {
    const root = tree({ "/sys/kernel/kexec_crash_size": `${512 * M}\n`, "/sys/kernel/kexec_crash_loaded": "0\n" });
    const size = () => readFileSync(join(root, "sys/kernel/kexec_crash_size"), "utf8").trim();
    try {
      const no = await run(root, ["256M"]);
      expect([no.code, no.err.trim()]).toEqual([1, "kdump: shrinking to 256M gives 256M back until the next boot: pass --yes to do it"]);
      expect(size()).toBe(String(512 * M));
      const grow = await run(root, ["1G", "--yes"]);
      expect(grow.code).toBe(2);
      expect(grow.err).toContain("it can only shrink");
      writeFileSync(join(root, "sys/kernel/kexec_crash_loaded"), "1\n");
      expect((await run(root, ["256M", "--yes"])).err).toContain("a capture kernel is loaded");
      writeFileSync(join(root, "sys/kernel/kexec_crash_loaded"), "0\n");
      const yes = await run(root, ["256M", "--yes"]);
      expect(yes.code).toBe(0);
      expect(size()).toBe(String(256 * M));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
