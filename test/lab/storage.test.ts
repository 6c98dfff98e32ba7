// Captures on guests whose storage is built like a real server's: a first run makes the layout inside the guest
// with the real tools (lvm2, mdadm, mkfs.xfs, mkfs.btrfs) and copies its root into it; the second boots from it,
// arms with our `kdump load`, crashes with sysrq, and the capture kernel brings the storage up from the initramfs
// our load built; on the next boot `kdump analyze … bt` shows the crash site.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fetchKernel } from "../../lib/lab/kernels.ts";
import { buildRootfs } from "../../lib/lab/rootfs.ts";
import { MATRIX } from "../_matrix.ts";
import { $ } from "bun";
import { labDir } from "../../lib/lab/labdir.ts";
import { runGuest, type DiskBus, type GuestResult } from "../../lib/lab/qemu.ts";
import { layoutDisks, LVM_ROOT_LAYOUT, setupModules, storageBootInitramfs, storageToolFiles, type Layout, type StorageBoot } from "../../lib/lab/storage_guest.ts";

const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");
/** The value printed by the job as `KEY=value` (last one). */
const printed = (r: GuestResult, key: string) =>
  plain(r.console).split("\n").filter((l) => l.startsWith(`${key}=`)).pop()?.slice(key.length + 1);
const scratch = join(labDir(), "runs", `storage-${process.pid}`);
mkdirSync(scratch, { recursive: true, mode: 0o700 });
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** What the armed guest does: load (dry run printed), crash; on the next boot, list the dump and print its bt. */
const ARM_AND_CRASH = `
if [ "$LAB_BOOT" = 1 ]; then
  kdump load --dry-run 2>&1 | sed 's/^/PLAN /'
  kdump load; echo "RC-LOAD=$?"
  sync
  kdump trigger --yes
  echo "LAB-ERROR trigger returned"; exit 98
fi
for f in /var/crash/*/vmcore; do echo "SEEN=$f"; done
f=$(ls /var/crash/*/vmcore | tail -n 1)
kdump analyze "$f" bt 2>&1 | sed 's/^/BT /'
grep -h "kdump-capture:" /var/crash/*/kexec-dmesg.log | sed 's/^/CAPLOG /'
`;

/** Boots the disks of `layout` (built once, cached) through a boot initramfs that assembles it, and runs ARM_AND_CRASH. */
async function crashOn(line: string, layout: Layout, boot: StorageBoot, rootBus: DiskBus = "virtio") {
  const kernel = await fetchKernel(line);
  const [first, ...rest] = await layoutDisks(kernel, layout, scratch);
  return runGuest({
    kernel,
    job: ARM_AND_CRASH,
    rootImage: first!,
    rootBus,
    disks: rest.map((path) => ({ path, sizeMiB: 0 })),
    initrd: await storageBootInitramfs(kernel, ARM_AND_CRASH, boot),
    cmdline: `crashkernel=256M root=${boot.root}`,
    boots: 2,
    timeoutSeconds: 1800,
  });
}

describe("capture with the root on LVM (6.12)", () => {
  test("root on an LVM logical volume: kdump load packs lvm, the capture activates vg0/root, the dump's bt shows the crash site", async () => {
    // the layout (test/prepare.ts builds it) was made with the future root disk as vdb; booted, that disk alone is vda
    const r = await crashOn("6.12", LVM_ROOT_LAYOUT, { root: "/dev/mapper/vg0-root", vgs: ["vg0"] });
    try {
      expectCaptured(r, "kdump-capture: storage up: vg0/root");
      expect(printed(r, "SEEN")).toMatch(/^\/var\/crash\/lab-.*\/vmcore$/);
    } finally {
      r.cleanup();
    }
  }, 3_600_000);
});

/** The job's own lines and the capture's, for a failing case's message. */
const jobLines = (r: GuestResult) => plain(r.console).split("\n").filter((l) => !l.startsWith("[")).slice(-60).join("\n");

/** Asserts the capture saved a dump the next boot analyzed to the crash site; then removes the run. */
function expectCaptured(r: GuestResult, step: string): void {
  if (!r.console.includes("saved by the collector")) console.error(jobLines(r));
  expect(printed(r, "RC-LOAD")).toBe("0");
  expect(r.console).toContain(step);
  expect(r.console).toContain("kdump-capture: saved by the collector");
  expect(plain(r.console)).toMatch(/BT .*sysrq_handle_crash/);
}

/**
 * One guest on the lab's plain root with extra disks: boot 1 runs `prepare` (mkfs, config), loads and crashes;
 * boot 2 runs `after` (mount the target), then lists the dump and prints its bt as ARM_AND_CRASH does.
 */
async function crashWithDisks(line: string, prepare: string, after: string, disks: { path: string; sizeMiB: number; bus?: DiskBus }[], tools: string[], modules: string[]) {
  const kernel = await fetchKernel(line);
  const mods = setupModules(kernel, modules);
  const job = `${mods.load}\nif [ "$LAB_BOOT" = 1 ]; then\n${prepare}\nfi\nif [ "$LAB_BOOT" = 2 ]; then\n${after}\nfi\n${ARM_AND_CRASH}`;
  return runGuest({ kernel, job, disks, rootfs: { files: { ...storageToolFiles(tools), ...mods.files } }, cmdline: "crashkernel=256M", boots: 2, timeoutSeconds: 1800 });
}

describe.if(MATRIX).each(["6.12", "6.1"])("capture on storage built like a server's, Debian %s (matrix)", (line) => {
  test("the dump target on a btrfs disk by LABEL (kdump.conf btrfs LABEL=…, not mounted in the running system)", async () => {
    const disk = join(scratch, `btrfs-${line}.img`);
    const r = await crashWithDisks(line, "mkfs.btrfs -q -L kdumpbtrfs /dev/vdb && printf 'btrfs LABEL=kdumpbtrfs\\npath /dumps\\n' > /etc/kdump.conf || exit 1", "mkdir -p /var/crash && mount /dev/vdb /mnt && mount --bind /mnt/dumps /var/crash", [{ path: disk, sizeMiB: 1024 }], ["mkfs.btrfs"], ["btrfs"]);
    try {
      expectCaptured(r, "kdump-capture: dump target LABEL=kdumpbtrfs (/dev/vdb, btrfs) mounted at /tmp/kdump-target");
    } finally {
      r.cleanup();
      rmSync(disk, { force: true });
    }
  }, 3_600_000);

  test("/var/crash on a separate XFS disk, found by UUID in the capture", async () => {
    const disk = join(scratch, `xfs-${line}.img`);
    const r = await crashWithDisks(line, "mkfs.xfs -q /dev/vdb && mount /dev/vdb /var/crash || exit 1", "mount /dev/vdb /var/crash", [{ path: disk, sizeMiB: 512 }], ["mkfs.xfs"], ["xfs"]);
    try {
      expectCaptured(r, "(/dev/vdb, xfs) mounted at /var/crash");
      expect(plain(r.console)).toMatch(/kdump-capture: dump target UUID=[0-9a-f-]{36} \(\/dev\/vdb, xfs\)/);
    } finally {
      r.cleanup();
      rmSync(disk, { force: true });
    }
  }, 3_600_000);

  test("root on NVMe (-device nvme)", async () => {
    const kernel = await fetchKernel(line);
    const disk = join(scratch, `nvme-${line}.img`);
    await $`cp --sparse=always ${await buildRootfs(kernel)} ${disk}`.quiet();
    const boot = { root: "/dev/nvme0n1", modules: ["nvme"] };
    const r = await runGuest({ kernel, job: ARM_AND_CRASH, rootImage: disk, rootBus: "nvme", initrd: await storageBootInitramfs(kernel, ARM_AND_CRASH, boot), cmdline: "crashkernel=256M root=/dev/nvme0n1", boots: 2, timeoutSeconds: 1800 });
    try {
      expectCaptured(r, "kdump-capture: root /dev/nvme0n1 mounted");
    } finally {
      r.cleanup();
      rmSync(disk, { force: true });
    }
  }, 3_600_000);

  test("root on MD RAID1 across two disks: the capture assembles it with mdadm", async () => {
    const setup = `mdadm --create /dev/md0 --run --level=1 --raid-devices=2 --metadata=1.2 --name=root --assume-clean /dev/vdb /dev/vdc || exit 1
mkfs.ext4 -q /dev/md0 && mkdir -p /mnt/new && mount /dev/md0 /mnt/new || exit 1`;
    // without an mdadm.conf the boot initramfs assembles the array by its name, as /dev/md127
    const layout = { name: "md-root", setup, sizesMiB: [1400, 1400], tools: ["mdadm", "mkfs.ext4"], modules: ["raid1"], root: "/dev/md127" };
    const r = await crashOn(line, layout, { root: "/dev/md127", md: true });
    try {
      expectCaptured(r, "kdump-capture: storage up: md127");
    } finally {
      r.cleanup();
    }
  }, 3_600_000);

  test("a raw partition target: the capture writes the flattened stream onto /dev/vdb1, the next boot's `kdump start` saves it to /var/crash and marks the partition consumed", async () => {
    const disk = join(scratch, `raw-${line}.img`);
    // one primary partition over the whole disk (busybox fdisk), then kdump.conf `raw /dev/vdb1`
    const prepare = "printf 'n\\np\\n1\\n\\n\\nw\\n' | busybox fdisk /dev/vdb >/dev/null; [ -b /dev/vdb1 ] && printf 'raw /dev/vdb1\\n' > /etc/kdump.conf || exit 1";
    // twice: the second start finds the partition consumed and saves nothing again
    const after = "mkdir -p /var/crash; for i in 1 2; do kdump start 2>&1 | sed \"s/^/START$i /\"; done";
    const r = await crashWithDisks(line, prepare, after, [{ path: disk, sizeMiB: 512 }], [], []);
    try {
      expectCaptured(r, "kdump-capture: saved by the collector");
      const text = plain(r.console);
      expect(text).toMatch(/^PLAN dump target: \/dev\/vdb1$/m);
      expect(text).not.toContain("the dump target /dev/vdb1 is not on the root filesystem"); // the capture writes it through the root's /dev
      expect(text).toMatch(/^START1 saved the dump the last capture left on the raw partition as \/var\/crash\/\S+\/vmcore$/m);
      expect(text).toMatch(/^START2 armed/m);
      expect(text).not.toMatch(/^START2 saved the dump/m);
      expect(plain(r.console).split("\n").filter((l) => l.startsWith("SEEN=")).length).toBe(1);
    } finally {
      r.cleanup();
      rmSync(disk, { force: true });
    }
  }, 3_600_000);

  test("a target UUID no disk has: load warns, the capture runs the failure action within KDUMP_DEVICE_TIMEOUT and says which step failed", async () => {
    const kernel = await fetchKernel(line);
    const job = `if [ "$LAB_BOOT" = 1 ]; then
  printf 'xfs UUID=0badc0de-0000-4000-8000-000000000000\\n' > /etc/kdump.conf
  mkdir -p /etc/default && echo 'KDUMP_DEVICE_TIMEOUT=20' > /etc/default/kdump-tools
  kdump load 2>&1 | sed 's/^/LOAD /'
  sync; kdump trigger --yes
fi
echo "AFTER=$(ls /var/crash | wc -l)"`;
    const r = await runGuest({ kernel, job, cmdline: "crashkernel=256M", boots: 2, timeoutSeconds: 1200 });
    try {
      const text = plain(r.console);
      expect(text).toContain("no disk here has UUID=0badc0de-0000-4000-8000-000000000000");
      expect(text).toContain("kdump-capture: dump target step failed: UUID=0badc0de-0000-4000-8000-000000000000 did not appear within 20 s");
      expect(text).toContain("kdump-capture: failure action: reboot");
      expect(printed(r, "AFTER")).toBe("0"); // nothing named vmcore, complete or not
      expect(r.exits).toEqual([{ boot: 2, code: 0 }]); // the failure action rebooted the box
    } finally {
      r.cleanup();
    }
  }, 3_600_000);
});
