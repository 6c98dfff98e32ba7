// The device stack under a mount, from synthetic sysfs trees shaped like a kernel's (LVM on a partition of a
// virtio disk, LVM on MD RAID1 over NVMe and SATA, LUKS on virtio-scsi) and from this machine's real /sys.
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { blockStack, luksUuidOf, mountStack, splitLvmName, stackNodes, layerModules } from "../../lib/collect/devices.ts";

const tmp = mkdtempSync(join(tmpdir(), "kdump-devices-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A little sysfs: block devices under /sys/devices, /sys/dev/block links, drivers with module links. */
class FakeSys {
  constructor(readonly root: string) {
    mkdirSync(join(root, "dev/block"), { recursive: true });
  }
  put(path: string, text: string) {
    mkdirSync(dirname(join(this.root, path)), { recursive: true });
    writeFileSync(join(this.root, path), text + "\n");
  }
  link(path: string, target: string) {
    mkdirSync(dirname(join(this.root, path)), { recursive: true });
    symlinkSync(relative(dirname(join(this.root, path)), join(this.root, target)), join(this.root, path));
  }
  /** A bus device with a modalias and a driver (module null: built in). */
  bus(path: string, modalias: string | null, driver: string, module: string | null) {
    if (modalias) this.put(`${path}/modalias`, modalias);
    mkdirSync(join(this.root, "bus/x/drivers", driver), { recursive: true });
    if (module) {
      mkdirSync(join(this.root, "module", module), { recursive: true });
      try {
        symlinkSync(join(this.root, "module", module), join(this.root, "bus/x/drivers", driver, "module"));
      } catch {}
    }
    this.link(`${path}/driver`, `bus/x/drivers/${driver}`);
  }
  block(path: string, majmin: string, partition = false) {
    this.put(`${path}/dev`, majmin);
    if (partition) this.put(`${path}/partition`, "1");
    this.link(`dev/block/${majmin}`, path);
  }
  slave(holder: string, slave: string) {
    this.link(`${holder}/slaves/${slave.split("/").pop()}`, slave);
  }
}

const VIRTIO_PCI = "devices/pci0000:00/0000:00:04.0";
const VDA = `${VIRTIO_PCI}/virtio1/block/vda`;

test("blockStack() reads LVM on a partition of a virtio disk, and its drivers", () => {
  const s = new FakeSys(join(tmp, "lvm"));
  s.bus(VIRTIO_PCI, "pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00", "virtio-pci", "virtio_pci");
  s.bus(`${VIRTIO_PCI}/virtio1`, "virtio:d00000002v00001AF4", "virtio_blk", "virtio_blk");
  s.block(VDA, "254:0");
  s.block(`${VDA}/vda2`, "254:2", true);
  s.block("devices/virtual/block/dm-0", "253:0");
  s.put("devices/virtual/block/dm-0/dm/name", "vg--data-root");
  s.put("devices/virtual/block/dm-0/dm/uuid", "LVM-" + "a".repeat(32) + "b".repeat(32));
  s.slave("devices/virtual/block/dm-0", `${VDA}/vda2`);
  const top = blockStack("253:0", s.root);
  expect(top).toMatchObject({ name: "dm-0", kind: "lvm", lvm: { vg: "vg-data", lv: "root" } });
  const [part] = top.slaves;
  expect(part).toMatchObject({ name: "vda2", kind: "partition", majmin: "254:2" });
  expect(part!.slaves[0]).toMatchObject({
    name: "vda",
    kind: "disk",
    transport: "virtio-blk",
    modaliases: ["virtio:d00000002v00001AF4", "pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00"],
    drivers: ["virtio_blk", "virtio_pci"],
  });
  expect(stackNodes(top).flatMap(layerModules)).toEqual(["dm_mod"]);
});

test("blockStack() reads LVM on MD RAID1 over an NVMe namespace and a SATA disk", () => {
  const s = new FakeSys(join(tmp, "md"));
  const nvmePci = "devices/pci0000:00/0000:00:05.0";
  s.bus(nvmePci, "pci:v00001B36d00000010sv00001AF4sd00001100bc01sc08i02", "nvme", "nvme");
  s.block(`${nvmePci}/nvme/nvme0/nvme0n1`, "259:0");
  const ahci = "devices/pci0000:00/0000:00:1f.2";
  s.bus(ahci, "pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01", "ahci", "ahci");
  const sd = `${ahci}/ata1/host0/target0:0:0/0:0:0:0`;
  s.bus(sd, "scsi:t-0x00", "sd", "sd_mod");
  s.block(`${sd}/block/sda`, "8:0");
  s.block("devices/virtual/block/md127", "9:127");
  s.put("devices/virtual/block/md127/md/level", "raid1");
  s.slave("devices/virtual/block/md127", `${nvmePci}/nvme/nvme0/nvme0n1`);
  s.slave("devices/virtual/block/md127", `${sd}/block/sda`);
  s.block("devices/virtual/block/dm-1", "253:1");
  s.put("devices/virtual/block/dm-1/dm/name", "vg0-var_crash");
  s.put("devices/virtual/block/dm-1/dm/uuid", "LVM-" + "c".repeat(64));
  s.slave("devices/virtual/block/dm-1", "devices/virtual/block/md127");
  const top = blockStack("253:1", s.root);
  expect(top.lvm).toEqual({ vg: "vg0", lv: "var_crash" });
  const md = top.slaves[0]!;
  expect(md).toMatchObject({ kind: "md", mdLevel: "raid1" });
  expect(md.slaves.map((d) => [d.name, d.transport, d.drivers])).toEqual([
    ["nvme0n1", "nvme", ["nvme"]],
    ["sda", "sata", ["sd_mod", "ahci"]],
  ]);
  expect(stackNodes(top).flatMap(layerModules)).toEqual(["dm_mod", "md_mod", "raid1"]);
});

test("blockStack() reads a LUKS2 mapping on a virtio-scsi disk", () => {
  const s = new FakeSys(join(tmp, "crypt"));
  const pci = "devices/pci0000:00/0000:00:06.0";
  s.bus(pci, "pci:v00001AF4d00001004sv00001AF4sd00000008bc01sc00i00", "virtio-pci", "virtio_pci");
  s.bus(`${pci}/virtio2`, "virtio:d00000008v00001AF4", "virtio_scsi", "virtio_scsi");
  const dev = `${pci}/virtio2/host2/target2:0:0/2:0:0:0`;
  s.bus(dev, "scsi:t-0x00", "sd", "sd_mod");
  s.block(`${dev}/block/sdb`, "8:16");
  s.block("devices/virtual/block/dm-2", "253:2");
  s.put("devices/virtual/block/dm-2/dm/name", "luks-root");
  s.put("devices/virtual/block/dm-2/dm/uuid", "CRYPT-LUKS2-0123456789abcdef0123456789abcdef-luks-root");
  s.slave("devices/virtual/block/dm-2", `${dev}/block/sdb`);
  const top = blockStack("253:2", s.root);
  expect(top).toMatchObject({ kind: "crypt", luksUuid: "01234567-89ab-cdef-0123-456789abcdef" });
  expect(top.slaves[0]).toMatchObject({ transport: "virtio-scsi", drivers: ["sd_mod", "virtio_scsi", "virtio_pci"] });
  expect(stackNodes(top).flatMap(layerModules)).toEqual(["dm_mod", "dm_crypt"]);
});

test("splitLvmName() undoes the doubled dashes of LVM's dm names; luksUuidOf() ignores plain dm-crypt", () => {
  expect(splitLvmName("my--vg-my--lv")).toEqual({ vg: "my-vg", lv: "my-lv" });
  expect(splitLvmName("vg0-root")).toEqual({ vg: "vg0", lv: "root" });
  expect(luksUuidOf("CRYPT-PLAIN-cr")).toBeNull();
});

test("mountStack() finds this machine's root filesystem on a real disk with the modaliases sysfs shows", () => {
  const m = mountStack("/")!;
  if (!m) return; // a root on no block device (a container's overlay) has no stack
  const disks = stackNodes(m.stack).filter((n) => n.kind === "disk");
  expect(disks.length).toBeGreaterThan(0);
  for (const d of disks) {
    expect(d.majmin).toBe(readFileSync(`/sys/class/block/${d.name}/dev`, "utf8").trim());
    expect(d.modaliases.length).toBeGreaterThan(0);
  }
  expect(mountStack("/proc")).toBeNull();
});
