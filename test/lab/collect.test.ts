// Lab: a real crash on 6.1 and 6.12, then the capture kernel (crashkernel=256M, one CPU) runs our collector
// from the crashed root filesystem to a virtio disk found by LABEL; the same capture also copies /proc/vmcore
// whole with dd. Our analyze (and Debian's crash on 6.1) read the same log and bt from both. A too-small target
// disk ends with no file named vmcore, an incomplete file with its reason, a console message and the action.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { $ } from "bun";
import { analyze } from "../../lib/analyze/command.ts";
import { bootInitramfs } from "../../lib/lab/bootinitrd.ts";
import { fetchKernel } from "../../lib/lab/kernels.ts";
import { labDir } from "../../lib/lab/labdir.ts";
import { guestCopy, guestList, LAB_CAPTURE_CMDLINE, runGuest } from "../../lib/lab/qemu.ts";
import { debugKernel } from "../kernel/_images.ts";

const CAPTURE_CMDLINE = LAB_CAPTURE_CMDLINE;

/**
 * The guest job, run on both boots: the first loads the capture kernel with a boot initramfs that runs this
 * same job from the crashed root disk, then crashes; the second (the capture kernel) runs `capture`.
 */
function job(capture: string): string {
  return `
if [ "$LAB_BOOT" = 1 ]; then
  /opt/peer/kexec -s -p /boot/vmlinuz-$(uname -r) --initrd=/lab/capture-ours.cpio --append="${CAPTURE_CMDLINE}" || exit 97
  echo 1 > /proc/sys/kernel/sysrq
  sync
  echo c > /proc/sysrq-trigger
  sleep 20
  exit 98
fi
echo "LAB-CAPTURE $(uname -r) $(sed -n 's/^MemTotal: *//p' /proc/meminfo)"
${capture}
`;
}

/** Boots, crashes and captures; returns the console and the disk images (cleaned up by the caller). */
async function crashAndCollect(line: string, capture: string, disks: { name: string; mkfs?: string; sizeMiB: number }[]) {
  const kernel = await fetchKernel(line);
  const dir = mkdtempSync(join(labDir(), "collect-"));
  const paths: Record<string, string> = {};
  for (const d of disks) {
    paths[d.name] = join(dir, `${d.name}.img`);
    if (d.mkfs) await $`mke2fs -q -F -t ext4 -L ${d.mkfs} ${paths[d.name]!} ${d.sizeMiB}M`.quiet();
  }
  const text = job(capture);
  const r = await runGuest({
    kernel,
    job: text,
    cmdline: "crashkernel=256M",
    cpus: 2,
    boots: 2,
    timeoutSeconds: 480,
    disks: disks.map((d) => ({ path: paths[d.name]!, sizeMiB: d.sizeMiB })),
    rootfs: { files: { "/lab/capture-ours.cpio": await bootInitramfs(kernel, text) } },
  });
  return { ...r, paths, dir, done: () => (r.cleanup(), rmSync(dir, { recursive: true, force: true })) };
}

/**
 * A second collect of the same crash to a tmpfs, whose file system (before Linux 6.6) refuses O_DIRECT: the collector
 * falls back to writing its page data through the page cache (lib/dump/direct_append.ts). busybox dd's oflag=direct
 * shows the refusal is real; the md5 is compared with the disk copy's.
 */
const TMPFS_COPY = `
mkdir -p /run/tmpfs-copy && mount -t tmpfs -o size=128m,mode=0700 tmpfs /run/tmpfs-copy
if dd if=/dev/zero of=/run/tmpfs-copy/probe bs=4096 count=1 oflag=direct 2>/dev/null; then echo "LAB-TMPFS-ODIRECT taken"; else echo "LAB-TMPFS-ODIRECT refused"; fi
rm -f /run/tmpfs-copy/probe
kdump collect --from /proc/vmcore --out /run/tmpfs-copy; echo "LAB-TMPFS-EXIT $?"
echo "LAB-TMPFS-MD5 $(md5sum $(find /run/tmpfs-copy -name vmcore) | cut -d' ' -f1)"`;

describe("kdump collect in the capture kernel", () => {
  for (const line of ["6.1", "6.12"]) {
    test(`saves a ${line} crash by LABEL that analyze${line === "6.1" ? " and crash" : ""} read like the whole ELF copy`, async () => {
      const r = await crashAndCollect(
        line,
        `kdump collect --from /proc/vmcore --out LABEL=kdumptgt:/crash; echo "LAB-COLLECT-EXIT $?"
dd if=/proc/vmcore of=/dev/vdc bs=1M 2>/dev/null; echo "LAB-VMCORE-SIZE $(stat -c %s /proc/vmcore)"${line === "6.1" ? TMPFS_COPY : ""}`,
        [
          { name: "target", mkfs: "kdumptgt", sizeMiB: 512 },
          { name: "elf", sizeMiB: 1100 },
        ],
      );
      try {
        expect(r.console).toContain("LAB-CAPTURE");
        expect(r.console).toContain("LAB-COLLECT-EXIT 0");
        expect(r.console).toMatch(/saved \/run\/kdump-target-\d+\/crash\/lab-\S+\/vmcore \(kdump, zstd, -d 31\)/);
        const folders = (await guestList(r.paths.target!, "/crash"))!;
        expect(folders.length).toBe(1);
        const folder = `/crash/${folders[0]}`;
        expect((await guestList(r.paths.target!, folder))!.sort()).toEqual(["vmcore", "vmcore-dmesg.txt"]);
        const stat = (await $`debugfs -R ${`stat ${folder}/vmcore`} ${r.paths.target!}`.quiet()).stdout.toString();
        expect(stat).toMatch(/Mode:\s+0600/);
        const ours = join(r.dir, "vmcore");
        await guestCopy(r.paths.target!, `${folder}/vmcore`, ours);
        const elf = r.paths.elf!;
        await $`truncate -s ${/LAB-VMCORE-SIZE (\d+)/.exec(r.console)![1]!} ${elf}`.quiet();
        if (line === "6.1") {
          // tmpfs before Linux 6.6 refuses O_DIRECT: the page data went through the page cache, the same bytes
          expect(r.console).toContain("LAB-TMPFS-EXIT 0");
          expect(r.console).toContain("LAB-TMPFS-ODIRECT refused");
          expect(/LAB-TMPFS-MD5 ([0-9a-f]{32})/.exec(r.console)?.[1]).toBe(new Bun.CryptoHasher("md5").update(await Bun.file(ours).arrayBuffer()).digest("hex"));
        }
        const log = analyze(ours, "log");
        expect(log).toContain("sysrq triggered crash");
        expect(log).toBe(analyze(elf, "log"));
        expect(analyze(ours, "bt")).toBe(analyze(elf, "bt"));
        if (line === "6.1") {
          // Debian's crash 8.0.2 opens 6.1 dumps only (DESIGN.md)
          const { vmlinux } = await debugKernel(line);
          const crash = async (f: string) => (await $`printf 'log\nbt\nquit\n' | crash -s ${vmlinux} ${f}`.quiet().nothrow()).stdout.toString();
          const out = await crash(ours);
          expect(out).toContain("sysrq_handle_crash at");
          expect(out).toBe(await crash(elf));
        }
      } finally {
        r.done();
      }
    }, 900_000);
  }

  test("on a too-small target leaves vmcore-incomplete and its reason, says so on the console, and powers off", async () => {
    const r = await crashAndCollect("6.1", `kdump collect --from /proc/vmcore --out LABEL=kdumpsmall --failure-action poweroff; echo "LAB-COLLECT-EXIT $?"`, [
      { name: "small", mkfs: "kdumpsmall", sizeMiB: 12 },
    ]);
    try {
      expect(r.console).toContain("LAB-CAPTURE");
      expect(r.console).toMatch(/kdump collect: FAILED: no space left on the device/);
      expect(r.console).toMatch(/kdump collect: the partial dump is kept as \S+\/vmcore-incomplete \(it is not named vmcore\)/);
      expect(r.console).toContain("kdump: failure action: poweroff");
      expect(r.console).not.toContain("LAB-COLLECT-EXIT"); // the capture kernel powered off inside collect
      const folders = (await guestList(r.paths.small!, "/"))!.filter((n) => n.startsWith("lab-"));
      expect(folders.length).toBe(1);
      const files = (await guestList(r.paths.small!, `/${folders[0]}`))!.sort();
      expect(files).toEqual(["vmcore-dmesg.txt", "vmcore-incomplete", "vmcore-incomplete.reason"]);
      const reason = (await $`debugfs -R ${`cat /${folders[0]}/vmcore-incomplete.reason`} ${r.paths.small!}`.quiet()).stdout.toString();
      expect(reason).toMatch(/no space left/);
      // the log and the kernel image went first: the partial dump still has the whole log
      const partial = join(r.dir, "partial");
      await guestCopy(r.paths.small!, `/${folders[0]}/vmcore-incomplete`, partial);
      expect(analyze(partial, "log")).toContain("sysrq triggered crash");
    } finally {
      r.done();
    }
  }, 900_000);
});
