// The btrfs superblock's identity (the filesystem's UUID, its label), as blkid reads it: struct btrfs_super_block
// at 64 KiB, little-endian, magic "_BHRfS_M". UUID= names the filesystem (fsid), shared by all its devices.
import type { FsIdentity } from "./blkid.ts";
import { uuidText } from "./blkid.ts";

/** Where the primary superblock sits. */
export const BTRFS_SUPER_OFFSET = 0x10000;
const MAGIC = "_BHRfS_M";

/**
 * The identity of a btrfs filesystem whose first bytes are `head` (at least 64 KiB + 556), or null.
 * @example probeBtrfs(first68k) // { fstype: "btrfs", uuid: "…", label: "dumps" }
 */
export function probeBtrfs(head: Uint8Array): FsIdentity | null {
  const sb = head.subarray(BTRFS_SUPER_OFFSET);
  if (sb.length < 0x12b + 256) return null;
  if (new TextDecoder().decode(sb.subarray(0x40, 0x48)) !== MAGIC) return null; // magic (8) @0x40
  // fsid (16) @0x20; label (256) @0x12b
  const label = new TextDecoder().decode(sb.subarray(0x12b, 0x12b + 256)).replace(/\0[\s\S]*$/, "");
  return { fstype: "btrfs", uuid: uuidText(sb.subarray(0x20, 0x30)), label };
}
