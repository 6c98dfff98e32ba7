// The capture's storage plan: from a sysfs tree shaped like LVM on MD RAID1 over two virtio disks, with Debian
// 6.12's real modules, the modules, programs, configs and /init step it yields; the step's time bound, run in busybox sh.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { $ } from "bun";
import { blockStack } from "../../lib/collect/devices.ts";
import { captureInit } from "../../lib/initramfs/init.ts";
import { moduleIndex, type ModuleIndex } from "../../lib/initramfs/modules.ts";
import { CAPTURE_LVM_CONF, captureStorage, planStorage, type StorageHost } from "../../lib/initramfs/storage.ts";
import { fetchKernel } from "../../lib/lab/kernels.ts";

const tmp = mkdtempSync(join(tmpdir(), "kdump-storage-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let idx: ModuleIndex;
beforeAll(async () => {
  idx = moduleIndex((await fetchKernel("6.12")).modulesDir);
}, 300_000);

const put = (p: string, text: string) => (mkdirSync(dirname(join(tmp, p)), { recursive: true }), writeFileSync(join(tmp, p), text + "\n"));
const link = (p: string, target: string) => (mkdirSync(dirname(join(tmp, p)), { recursive: true }), symlinkSync(relative(dirname(join(tmp, p)), join(tmp, target)), join(tmp, p)));
/** sysfs: dm-0 (vg0-root) on md127 (raid1) on vda and vdb (virtio-blk); the root mounted from dm-0. */
function tree(): void {
  for (const [i, d] of ["vda", "vdb"].entries()) {
    const pci = `devices/pci0000:00/0000:00:0${4 + i}.0`;
    put(`${pci}/modalias`, "pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00");
    put(`${pci}/virtio${i}/modalias`, "virtio:d00000002v00001AF4");
    put(`${pci}/virtio${i}/block/${d}/dev`, `254:${i * 16}`);
    link(`dev/block/254:${i * 16}`, `${pci}/virtio${i}/block/${d}`);
    link(`devices/virtual/block/md127/slaves/${d}`, `${pci}/virtio${i}/block/${d}`);
  }
  put("devices/virtual/block/md127/dev", "9:127");
  put("devices/virtual/block/md127/md/level", "raid1");
  link("dev/block/9:127", "devices/virtual/block/md127");
  put("devices/virtual/block/dm-0/dev", "253:0");
  put("devices/virtual/block/dm-0/dm/name", "vg0-root");
  put("devices/virtual/block/dm-0/dm/uuid", "LVM-" + "x".repeat(64));
  link("devices/virtual/block/dm-0/slaves/md127", "devices/virtual/block/md127");
  link("dev/block/253:0", "devices/virtual/block/dm-0");
}

const host: StorageHost = {
  program: (n) => `/usr/sbin/${n}`,
  programFiles: (p) => [[p.slice(1), "/bin/sh"], ["lib/x86_64-linux-gnu/libdevmapper.so.1.02.1", "/bin/sh"], ["lib64/ld-linux-x86-64.so.2", "/bin/sh"]],
  mdDetail: (n) => (n === "md127" ? "MD_LEVEL=raid1\nMD_UUID=4e1b2f3a:11223344:55667788:99aabbcc\n" : null),
  probe: () => ({ fstype: "xfs", uuid: "9a1b2c3d-0000-4000-8000-00000000000f", label: "" }),
  findDevice: () => null,
};
const MOUNTINFO = "22 1 253:0 / / rw,relatime - ext4 /dev/mapper/vg0-root rw\n30 22 254:32 / /var/crash rw,relatime - xfs /dev/vdc rw\n";

test("planStorage() of LVM on MD RAID1 over virtio disks: the drivers by modalias, md and dm modules, mdadm then lvm with their configs", () => {
  tree();
  const p = planStorage([{ mount: { majmin: "253:0", mountpoint: "/", fstype: "ext4", source: "/dev/mapper/vg0-root", options: "" }, stack: blockStack("253:0", tmp) }], idx, 90, null, host);
  expect(p.lvs).toEqual(["vg0/root"]);
  expect(p.arrays).toEqual([{ name: "md127", uuid: "4e1b2f3a:11223344:55667788:99aabbcc" }]);
  expect(p.modules.sort()).toEqual(["dm_mod", "ext4", "md_mod", "raid1", "virtio_blk"].sort()); // virtio_pci is built into 6.12
  // contents as bytes (a string would name a host file to copy)
  expect(new TextDecoder().decode(p.files["etc/lvm/lvm.conf"] as Uint8Array)).toBe(CAPTURE_LVM_CONF);
  expect(new TextDecoder().decode(p.files["etc/mdadm/mdadm.conf"] as Uint8Array)).toBe("DEVICE partitions\nARRAY /dev/md127 UUID=4e1b2f3a:11223344:55667788:99aabbcc\n");
  expect(p.files["usr/sbin/lvm"]).toBe("/bin/sh");
  expect(p.script).toContain("LD_LIBRARY_PATH=/lib/x86_64-linux-gnu:/lib64 /usr/sbin/mdadm --assemble --scan --run");
  expect(p.script).toContain('/usr/sbin/lvm lvchange -ay --sysinit "$lv"');
  expect(p.script.indexOf("mdadm --assemble")).toBeLessThan(p.script.indexOf("lvm lvchange")); // the PV is on the array
}, 60_000);

test("captureStorage() mounts /var/crash on its own XFS disk by UUID at its mount point, and the init parses", async () => {
  put("devices/pci0000:00/0000:00:06.0/virtio2/block/vdc/dev", "254:32");
  link("dev/block/254:32", "devices/pci0000:00/0000:00:06.0/virtio2/block/vdc");
  const s = captureStorage({ kind: "dir", path: "/var/crash" }, MOUNTINFO, idx, 90, host, tmp);
  expect(s.target).toBe("/var/crash");
  expect(s.targetMount).toEqual({ spec: "UUID=9a1b2c3d-0000-4000-8000-00000000000f", fstype: "xfs", dir: "/var/crash" });
  expect(s.plan.modules).toContain("xfs");
  const init = join(tmp, "init");
  writeFileSync(init, captureInit({ modules: [], target: s.target, bun: "/b", kdump: "/k", rootWaitSeconds: 30, storage: s.plan.script }));
  const r = await $`busybox sh -n ${init}`.quiet().nothrow();
  expect(r.stderr.toString()).toBe("");
  expect(r.exitCode).toBe(0);
}, 60_000);

test("captureStorage() of a device target not mounted here mounts it under the capture's /tmp", () => {
  const s = captureStorage({ kind: "device", spec: "LABEL=dumps", sub: "/crash", fstype: "btrfs" }, MOUNTINFO, idx, 90, host, tmp);
  expect(s.targetMount).toEqual({ spec: "LABEL=dumps", fstype: "btrfs", dir: "/tmp/kdump-target" });
  expect(s.target).toBe("/tmp/kdump-target/crash");
  expect(s.plan.modules).toContain("btrfs");
}, 60_000);

test("target_up gives up within its bound when no disk has the UUID, and says which step failed", async () => {
  const s = captureStorage({ kind: "device", spec: "UUID=00000000-dead-beef-0000-000000000000", sub: "/", fstype: "xfs" }, MOUNTINFO, idx, 2, host, tmp);
  const script = `log() { echo "kdump-capture: $*"; }\n${s.plan.script}\nstorage_up; target_up; echo "rc=$?"`;
  const t0 = performance.now();
  const out = (await $`busybox sh -c ${script}`.quiet().nothrow()).stdout.toString();
  const seconds = (performance.now() - t0) / 1000;
  expect(out).toContain("dump target step failed: UUID=00000000-dead-beef-0000-000000000000 did not appear within 2 s");
  expect(out).toContain("rc=1");
  expect(seconds).toBeLessThan(5);
}, 20_000);

test("captureStorage() of a raw partition writes to the device itself and packs its disk's drivers", () => {
  put("devices/pci0000:00/0000:00:06.0/virtio2/modalias", "virtio:d00000002v00001AF4");
  link("class/block/vdc", "devices/pci0000:00/0000:00:06.0/virtio2/block/vdc");
  put("devnodes/vdc", "");
  const s = captureStorage({ kind: "raw", device: join(tmp, "devnodes/vdc") }, MOUNTINFO, idx, 90, host, tmp);
  expect(s.target).toBe(join(tmp, "devnodes/vdc"));
  expect(s.targetMount).toBeNull();
  expect(s.stacks.map((m) => m.stack.name)).toEqual(["dm-0", "vdc"]);
  expect(s.plan.modules).toContain("virtio_blk");
}, 60_000);

test("buildInitramfs() packs the plan's programs, libraries and configs (contents, not paths)", async () => {
  const { buildInitramfs } = await import("../../lib/initramfs/initramfs.ts");
  const p = planStorage([{ mount: { majmin: "253:0", mountpoint: "/", fstype: "ext4", source: "/dev/mapper/vg0-root", options: "" }, stack: blockStack("253:0", tmp) }], idx, 90, null, host);
  const img = buildInitramfs({ release: "test", modules: [], codec: "zstd", cacheDir: join(tmp, "cache"), files: p.files, init: { target: "/var/crash", bun: "/b", kdump: "/k", rootWaitSeconds: 30, storage: p.script } });
  const cpio = Buffer.from(Bun.zstdDecompressSync(readFileSync(img.path)));
  for (const name of ["usr/sbin/lvm", "usr/sbin/mdadm", "lib64/ld-linux-x86-64.so.2", "etc/lvm/lvm.conf", "etc/mdadm/mdadm.conf"]) expect(cpio.includes(`${name}\0`)).toBe(true);
  expect(cpio.includes("obtain_device_list_from_udev = 0")).toBe(true);
  expect(cpio.includes("ARRAY /dev/md127 UUID=4e1b2f3a:11223344:55667788:99aabbcc")).toBe(true);
}, 60_000);
