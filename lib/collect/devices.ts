// The block-device stack under a mounted filesystem, read from sysfs and /proc/self/mountinfo as dracut's host-only
// mode reads it: partitions, device-mapper (LVM by its `LVM-` uuid, dm-crypt by `CRYPT-`), MD RAID, and the disks'
// modaliases (NVMe, AHCI/SATA, virtio-blk, virtio-scsi, SCSI disks). Any kernel with sysfs (2.6.x+): dm/name and
// dm/uuid since 2.6.29, md/level since 2.6.14.
import { existsSync, readdirSync, readFileSync, readlinkSync, realpathSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { MissingDataError } from "../errors.ts";
import { mountOf, parseMountinfo, type MountInfo } from "../initramfs/modules.ts";

/** What a block device is, as far as bringing it up in the capture kernel goes. */
export type BlockKind = "disk" | "partition" | "lvm" | "crypt" | "dm" | "md";

/** One block device and the devices it is built on. */
export interface BlockNode {
  /** The kernel's name (vda1, dm-0, md127, nvme0n1p2). */
  name: string;
  /** "major:minor". */
  majmin: string;
  kind: BlockKind;
  /** dm/name (device-mapper only): vg0-root, luks-…. */
  dmName?: string;
  /** dm/uuid (device-mapper only): LVM-<vg uuid><lv uuid>, CRYPT-LUKS2-<uuid>-<name>. */
  dmUuid?: string;
  /** The volume group and logical volume (kind "lvm"), from the dm name (dashes in names are doubled there). */
  lvm?: { vg: string; lv: string };
  /** The LUKS UUID (kind "crypt"), with dashes, as `cryptsetup luksUUID` prints it. */
  luksUuid?: string;
  /** md/level (kind "md"): raid1, raid0, raid10, raid5, linear. */
  mdLevel?: string;
  /** The modaliases sysfs shows from the disk up to the bus (disks only; a partition's are its disk's). */
  modaliases: string[];
  /** Driver modules bound along the device path in the running kernel (driver/module links; builtins absent). */
  drivers: string[];
  /** How the disk is attached, from its path and drivers (disks only). */
  transport?: "nvme" | "virtio-blk" | "virtio-scsi" | "sata" | "scsi" | "other";
  /** The devices this one is built on (dm and md slaves; a partition's disk). */
  slaves: BlockNode[];
}

const read = (p: string) => {
  try {
    return readFileSync(p, "utf8").trim();
  } catch {
    return null;
  }
};

/** Splits an LVM dm name (vg-lv, with `-` inside names written `--`) into its volume group and logical volume. */
export function splitLvmName(dmName: string): { vg: string; lv: string } | null {
  const m = /^((?:[^-]|--)+)-((?:[^-]|--)+)$/.exec(dmName);
  return m ? { vg: m[1]!.replace(/--/g, "-"), lv: m[2]!.replace(/--/g, "-") } : null;
}

/** The LUKS UUID in a dm-crypt uuid (`CRYPT-LUKS2-0123…cdef-name`), dashed; null when it is not LUKS. */
export function luksUuidOf(dmUuid: string): string | null {
  const m = /^CRYPT-LUKS\d-([0-9a-f]{32})-/i.exec(dmUuid);
  if (!m) return null;
  const h = m[1]!.toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * The stack of the block device `majmin` ("254:1"), read from the sysfs tree at `sys`.
 * @example blockStack("253:0").kind // "lvm", with slaves [{ kind: "partition", slaves: [{ kind: "disk", transport: "virtio-blk" }] }]
 */
export function blockStack(majmin: string, sys = "/sys"): BlockNode {
  const link = join(sys, "dev/block", majmin);
  if (!existsSync(link)) throw new MissingDataError(`no block device ${majmin} in ${sys}/dev/block`, { hint: "is the filesystem on a block device (not nfs, overlay or tmpfs)?" });
  return nodeAt(realpathSync(link), sys, new Set());
}

function nodeAt(path: string, sys: string, seen: Set<string>): BlockNode {
  const name = basename(path);
  const majmin = read(join(path, "dev")) ?? "";
  if (seen.has(path)) throw new MissingDataError(`the block device stack loops at ${name}`);
  seen.add(path);
  const node: BlockNode = { name, majmin, kind: "disk", modaliases: [], drivers: [], slaves: [] };
  if (existsSync(join(path, "partition"))) {
    node.kind = "partition";
    node.slaves.push(nodeAt(dirname(path), sys, seen));
    return node;
  }
  const slaves = join(path, "slaves");
  if (existsSync(slaves)) for (const s of readdirSync(slaves).sort()) node.slaves.push(nodeAt(realpathSync(join(slaves, s)), sys, seen));
  if (existsSync(join(path, "dm"))) {
    node.dmName = read(join(path, "dm/name")) ?? undefined;
    node.dmUuid = read(join(path, "dm/uuid")) ?? "";
    if (node.dmUuid.startsWith("LVM-")) {
      node.kind = "lvm";
      node.lvm = splitLvmName(node.dmName ?? "") ?? undefined;
    } else if (node.dmUuid.startsWith("CRYPT-")) {
      node.kind = "crypt";
      node.luksUuid = luksUuidOf(node.dmUuid) ?? undefined;
    } else node.kind = "dm";
    return node;
  }
  if (existsSync(join(path, "md"))) {
    node.kind = "md";
    node.mdLevel = read(join(path, "md/level")) ?? undefined;
    return node;
  }
  // a disk: the modaliases and bound drivers from it up to the bus
  for (let d = path; d.startsWith(join(sys, "devices") + "/"); d = dirname(d)) {
    const alias = read(join(d, "modalias"));
    if (alias) node.modaliases.push(alias);
    const drv = join(d, "driver");
    if (!existsSync(drv)) continue;
    const mod = join(drv, "module");
    node.drivers.push(basename(readlinkSync(existsSync(mod) ? mod : drv)).replace(/-/g, "_"));
  }
  node.transport = transportOf(path, node.modaliases);
  return node;
}

/** How a disk is attached, from its sysfs path and modaliases. */
function transportOf(path: string, aliases: string[]): BlockNode["transport"] {
  if (/\/nvme\/nvme\d+\//.test(path) || /\/nvme-subsystem\//.test(path)) return "nvme";
  const virtio = aliases.find((a) => a.startsWith("virtio:"));
  if (virtio?.startsWith("virtio:d00000002v")) return "virtio-blk";
  if (virtio?.startsWith("virtio:d00000008v")) return "virtio-scsi";
  if (/\/ata\d+\//.test(path)) return "sata";
  if (/\/host\d+\/target/.test(path)) return "scsi";
  return "other";
}

/** Every node of a stack, the top first. */
export function stackNodes(n: BlockNode): BlockNode[] {
  return [n, ...n.slaves.flatMap(stackNodes)];
}

/** A mounted filesystem and the block devices under it. */
export interface MountStack {
  mount: MountInfo;
  stack: BlockNode;
}

/**
 * The mount holding `path` and its device stack, or null when that filesystem is on no block device (nfs, tmpfs).
 * btrfs shows an anonymous 0:N in mountinfo: its device is found from the mount source.
 * @example mountStack("/var/crash").stack.kind // "partition"
 */
export function mountStack(path: string, mountinfo = readFileSync("/proc/self/mountinfo", "utf8"), sys = "/sys"): MountStack | null {
  const mount = mountOf(parseMountinfo(mountinfo), path);
  if (!mount) throw new MissingDataError(`no mount holds ${path}`, { hint: "is /proc mounted?" });
  let majmin = mount.majmin;
  if (mount.fstype === "btrfs" && mount.source.startsWith("/dev/")) {
    const byName = join(sys, "class/block", basename(realOr(mount.source)));
    const dev = read(join(byName, "dev"));
    if (dev) majmin = dev;
  }
  if (!existsSync(join(sys, "dev/block", majmin))) return null;
  return { mount, stack: blockStack(majmin, sys) };
}

function realOr(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

/** The modules a layer of the stack needs beyond the disks' drivers (md levels, dm targets). */
export function layerModules(n: BlockNode): string[] {
  switch (n.kind) {
    case "lvm":
    case "dm":
      return ["dm_mod"];
    case "crypt":
      return ["dm_mod", "dm_crypt"];
    case "md": {
      const level = n.mdLevel ?? "";
      const mod = level === "raid4" || level === "raid5" || level === "raid6" ? "raid456" : level === "linear" ? "linear" : /^raid(0|1|10)$/.test(level) ? level : null;
      return ["md_mod", ...(mod ? [mod] : [])];
    }
    default:
      return [];
  }
}
