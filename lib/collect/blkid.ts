// Finds a block device by UUID= or LABEL= the way blkid does, by reading file system superblocks (ext2/3/4, XFS,
// btrfs), so the capture environment needs no udev and no blkid. Devices come from /sys/class/block.
import { closeSync, existsSync, openSync, readdirSync, readSync } from "node:fs";
import { join } from "node:path";
import { BTRFS_SUPER_OFFSET, probeBtrfs } from "./blkid_btrfs.ts";
import { probeXfs } from "./blkid_xfs.ts";

/** What a superblock says. */
export interface FsIdentity {
  /** File system type as mount(2) takes it. */
  fstype: string;
  /** UUID, lowercase with dashes. */
  uuid: string;
  /** Volume label ("" when none). */
  label: string;
}

const EXT_MAGIC = 0xef53;

/** Formats 16 bytes as a UUID (8-4-4-4-12, lowercase). */
export function uuidText(b: Uint8Array): string {
  const h = Buffer.from(b).toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Bytes probeDevice reads: enough for btrfs's superblock at 64 KiB. */
export const PROBE_BYTES = BTRFS_SUPER_OFFSET + 4096;

/**
 * The identity of the file system whose first bytes are `head` (ext2/3/4 from 2 KiB, XFS, btrfs from 68 KiB), or
 * null when it is not one we know.
 * @example probeSuperblock(first68k)  // { fstype: "xfs", uuid: "…", label: "crash" }
 */
export function probeSuperblock(head: Uint8Array): FsIdentity | null {
  return probeXfs(head) ?? probeExt(head) ?? probeBtrfs(head);
}

/** ext2/3/4: struct ext4_super_block at 1 KiB, little-endian, magic 0xEF53. */
function probeExt(head: Uint8Array): FsIdentity | null {
  if (head.length < 2048) return null;
  const sb = head.subarray(1024);
  const v = new DataView(sb.buffer, sb.byteOffset, 1024);
  if (v.getUint16(56, true) !== EXT_MAGIC) return null; // s_magic
  const compat = v.getUint32(92, true); // s_feature_compat
  const incompat = v.getUint32(96, true); // s_feature_incompat
  const fstype = incompat & 0x40 /* EXTENTS */ || incompat & 0x200 /* FLEX_BG */ ? "ext4" : compat & 0x4 /* HAS_JOURNAL */ ? "ext3" : "ext2";
  const label = new TextDecoder().decode(sb.subarray(120, 136)).replace(/\0[\s\S]*$/, ""); // s_volume_name
  return { fstype, uuid: uuidText(sb.subarray(104, 120)), label }; // s_uuid
}

/** A device's identity, or null when unreadable or unknown. */
export function probeDevice(path: string): FsIdentity | null {
  let fd = -1;
  try {
    fd = openSync(path, "r");
    const head = new Uint8Array(PROBE_BYTES);
    const n = readSync(fd, head, 0, PROBE_BYTES, 0);
    return probeSuperblock(head.subarray(0, n));
  } catch {
    return null;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

/**
 * The device whose file system matches `spec` ("UUID=…" or "LABEL=…"), or null. Looks at every block
 * device in `sysBlock` (partitions included), as /dev/<name>.
 * @example findDevice("LABEL=crash")  // { device: "/dev/vdb", fstype: "ext4", … }
 */
export function findDevice(spec: string, sysBlock = "/sys/class/block", dev = "/dev"): (FsIdentity & { device: string }) | null {
  const m = /^(UUID|LABEL)=(.+)$/.exec(spec);
  if (!m) return null;
  const [, key, want] = m as unknown as [string, string, string];
  if (!existsSync(sysBlock)) return null;
  for (const name of readdirSync(sysBlock).sort()) {
    const device = join(dev, name);
    const id = probeDevice(device);
    if (!id) continue;
    if (key === "UUID" ? id.uuid === want.toLowerCase() : id.label === want) return { ...id, device };
  }
  return null;
}
