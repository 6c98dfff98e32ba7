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
import { qmp, type QmpReply } from "./_qmp.ts";
import { layoutDisks, LUKS_ROOT_LAYOUT, LVM_ROOT_LAYOUT, setupModules, storageBootInitramfs, storageToolFiles, type Layout, type StorageBoot } from "../../lib/lab/storage_guest.ts";

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
async function crashOn(line: string, layout: Layout, boot: StorageBoot, rootBus: DiskBus = "virtio", job = ARM_AND_CRASH) {
  const kernel = await fetchKernel(line);
  const [first, ...rest] = await layoutDisks(kernel, layout, scratch);
  return runGuest({
    kernel,
    job,
    rootImage: first!,
    rootBus,
    disks: rest.map((path) => ({ path, sizeMiB: 0 })),
    initrd: await storageBootInitramfs(kernel, job, boot),
    cmdline: `crashkernel=256M root=${boot.root}`,
    boots: 2,
    timeoutSeconds: 1800,
  });
}

/** Root on an LVM logical volume: the capture activates vg0/root and saves the dump under /var/crash on it. */
async function lvmRootCase(line: string) {
  const r = await crashOn(line, LVM_ROOT_LAYOUT, { root: "/dev/mapper/vg0-root", vgs: ["vg0"] });
  try {
    expectCaptured(r, "kdump-capture: storage up: vg0/root");
    expect(printed(r, "SEEN")).toMatch(/^\/var\/crash\/lab-.*\/vmcore$/);
  } finally {
    r.cleanup();
  }
}

describe("capture with the root on LVM (6.12)", () => {
  test("root on an LVM logical volume: kdump load packs lvm, the capture activates vg0/root, the dump's bt shows the crash site", async () => {
    // the layout (test/prepare.ts builds it) was made with the future root disk as vdb; booted, that disk alone is vda
    await lvmRootCase("6.12");
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
  // the default run has this case on 6.12 (above): the matrix adds the other line
  test.skipIf(line === "6.12")("root on an LVM logical volume (the other kernel line)", async () => {
    await lvmRootCase(line);
  }, 3_600_000);

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

  test("root on LUKS2 with /var/crash on a separate unencrypted XFS disk by UUID: the collector runs from the runtime staged there, the capture never opens the root", async () => {
    // the boot initramfs opens the root with the lab's key file at every boot (lab-only); /var/crash is vdb's XFS
    const job = `mount /dev/vdb /var/crash || echo "LAB-ERROR no /var/crash disk"
if [ "$LAB_BOOT" = 1 ]; then
  kdump load --dry-run --target /srv 2>&1 | sed 's/^/REFUSE /'
  t0=$(cut -d' ' -f1 /proc/uptime); kdump load >/dev/null 2>&1; echo "STAGE-SECONDS=$(echo "$t0 $(cut -d' ' -f1 /proc/uptime)" | awk '{print $2 - $1}')"
  echo "RUNTIME=$(stat -c %a /var/crash/.kdump-runtime) $(du -sm /var/crash/.kdump-runtime | cut -f1)"
fi
${ARM_AND_CRASH}`;
    const t0 = performance.now();
    const r = await crashOn(line, LUKS_ROOT_LAYOUT, { root: "/dev/mapper/root", luks: { device: "/dev/vda", name: "root" }, modules: ["xfs"] }, "virtio", job);
    try {
      const text = plain(r.console);
      expectCaptured(r, "kdump-capture: root is locked: the collector runs from /var/crash/.kdump-runtime on UUID=");
      expect(text).toMatch(/^PLAN runtime: {5}the root is locked \(LUKS [0-9a-f-]{36}\): the collector runs from Bun and the toolkit staged in \/var\/crash\/\.kdump-runtime \(0700\) on UUID=[0-9a-f-]{36}; the capture does not open the root$/m);
      expect(text).toMatch(/^PLAN storage: {5}\/ on dm-0 \(253:0\) luks [0-9a-f-]{36}$/m);
      expect(text).toMatch(/^REFUSE kdump: the dump target \/srv is on the root filesystem, which is on an encrypted device \(root, LUKS [0-9a-f-]{36}\), which the capture cannot unlock/m);
      expect(printed(r, "RUNTIME")).toMatch(/^700 \d+$/);
      expect(text).toMatch(/kdump-capture: dump target UUID=[0-9a-f-]{36} \(\/dev\/vdb, xfs\) mounted at \/var\/crash/);
      expect(text).not.toMatch(/kdump-capture: root \/dev\S* mounted/); // the locked root stays shut
      expect(text).toMatch(/^PLAN modules: .*\bxfs\b/m);
      expect(text).not.toMatch(/^PLAN modules: .*\bdm_(crypt|mod)\b/m); // nor is dm-crypt packed
      expect(printed(r, "SEEN")).toMatch(/^\/var\/crash\/lab-.*\/vmcore$/);
      console.log(`LUKS root ${line}: ${((performance.now() - t0) / 1000).toFixed(0)} s wall with slot queues and the layout, ${r.seconds.toFixed(0)} s in the guest (2 boots and the capture); the first load staged ${printed(r, "RUNTIME")?.split(" ")[1]} MiB in ${printed(r, "STAGE-SECONDS")} s`);
      console.log(text.split("\n").filter((l) => l.startsWith("CAPLOG ") || l.startsWith("BT ")).join("\n"));
    } finally {
      r.cleanup();
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

  test("the dump disk's backend removed through QMP after the panic (device_del, blockdev-del): the capture's target step fails within KDUMP_DEVICE_TIMEOUT, the failure action runs, nothing named vmcore anywhere", async () => {
    const kernel = await fetchKernel(line);
    const disk = join(scratch, `gone-${line}.img`);
    const sock = join(scratch, `qmp-${line}.sock`);
    rmSync(disk, { force: true });
    await $`truncate -s 512M ${disk}`.quiet();
    // /var/crash on its own XFS disk, a SCSI disk on virtio-scsi: QEMU itself completes its unplug (a panicked
    // kernel acks no PCI or ACPI hot-unplug), after which the node has no user and blockdev-del can remove it
    const mods = setupModules(kernel, ["virtio_scsi", "sd_mod", "xfs"]);
    const job = `${mods.load}
if [ "$LAB_BOOT" = 1 ]; then
  i=0; while [ ! -b /dev/sda ] && [ $i -lt 150 ]; do sleep 0.2; i=$((i+1)); done
  mkfs.xfs -q /dev/sda && mount /dev/sda /var/crash || exit 1
  mkdir -p /etc/default && echo 'KDUMP_DEVICE_TIMEOUT=20' > /etc/default/kdump-tools
  kdump load --dry-run 2>&1 | sed 's/^/PLAN /'
  kdump load; echo "RC-LOAD=$?"
  sync; kdump trigger --yes
  echo "LAB-ERROR trigger returned"; exit 98
fi
echo "SDA=$([ -b /dev/sda ] && echo present || echo gone)"
echo "AFTER=$(find /var/crash -name 'vmcore*' | wc -l)"`;
    const seen: { at: number; line: string }[] = [];
    let removed: Promise<QmpReply[]> | undefined;
    const r = await runGuest({
      kernel,
      job,
      rootfs: { files: { ...storageToolFiles(["mkfs.xfs"]), ...mods.files } },
      cmdline: "crashkernel=256M",
      boots: 2,
      timeoutSeconds: 1800,
      extraArgs: [
        "-device", "virtio-scsi-pci,id=scsi1",
        "-blockdev", `driver=raw,node-name=dumpnode,file.driver=file,file.filename=${disk}`,
        "-device", "scsi-hd,drive=dumpnode,id=dumpdisk,bus=scsi1.0",
        "-qmp", `unix:${sock},server=on,wait=off`,
      ],
      onLine: (l) => {
        seen.push({ at: Date.now(), line: l });
        if (/sysrq: Trigger a crash/.test(l) && !removed)
          // device_del completes asynchronously: blockdev-del once DEVICE_DELETED says the disk let go of its node
          removed = qmp(sock, [{ execute: "device_del", arguments: { id: "dumpdisk" } }, { event: "DEVICE_DELETED" }, { execute: "blockdev-del", arguments: { "node-name": "dumpnode" } }]).then((q) => (seen.push({ at: Date.now(), line: "QMP-REMOVED" }), q));
      },
    });
    try {
      const text = plain(r.console);
      if (!text.includes("failure action: reboot")) console.error(jobLines(r));
      expect(printed(r, "RC-LOAD")).toBe("0");
      // the running system found the target on virtio-scsi and packed its drivers
      expect(text).toMatch(/^PLAN modules:.*\bvirtio_scsi\b/m);
      expect(text).toMatch(/^PLAN modules:.*\bsd_mod\b/m);
      expect(text).toMatch(/^PLAN .*sda \(8:0\) disk virtio-scsi$/m);
      // the filesystem's UUID, as the disk image says on the host
      const uuid = /UUID = ([0-9a-f-]{36})/.exec((await $`xfs_db -r -c uuid ${disk}`.quiet()).stdout.toString())?.[1];
      expect(uuid).toMatch(/^[0-9a-f-]{36}$/);
      // QMP removed the disk, then its backend, and both said so before the capture kernel came up
      expect(await removed).toEqual([{ return: {} }, { return: expect.objectContaining({ device: "dumpdisk" }) }, { return: {} }]);
      const at = (re: RegExp) => seen.findIndex((s) => re.test(s.line));
      const gone = at(/^QMP-REMOVED$/);
      const up = at(/kdump-capture: capture kernel .* up/);
      const fail = at(/kdump-capture: failure action: reboot/);
      expect(gone).toBeGreaterThan(-1);
      expect(up).toBeGreaterThan(gone);
      expect(text).toContain(`kdump-capture: dump target step failed: UUID=${uuid} did not appear within 20 s of the storage step`);
      expect(fail).toBeGreaterThan(up);
      const seconds = (seen[fail]!.at - seen[up]!.at) / 1000;
      console.log(`blockdev-del (${line}): ${seconds.toFixed(1)} s from the capture kernel's start to the failure action (KDUMP_DEVICE_TIMEOUT 20 s); run ${r.seconds.toFixed(0)} s`);
      expect(seconds).toBeLessThan(20 + 15); // the bound, plus the root's mount and the console's lag
      // the failure action rebooted the box, which no longer has the disk; no vmcore, whole or not, on the root or the disk
      expect(r.exits).toEqual([{ boot: 2, code: 0 }]);
      expect(printed(r, "SDA")).toBe("gone");
      expect(printed(r, "AFTER")).toBe("0");
      const top = (await $`xfs_db -r -c ${"ls /"} ${disk}`.quiet()).stdout.toString();
      expect(top.split("\n").filter((l) => /^\d+\s/.test(l)).map((l) => l.trim().split(/\s+/)[5])).toEqual([".", ".."]); // inode size type cookie length name (good)
    } finally {
      r.cleanup();
      rmSync(disk, { force: true });
      rmSync(sock, { force: true });
    }
  }, 3_600_000);
});
