// The XFS superblock's identity (UUID, label), as blkid reads it: struct xfs_sb at offset 0 of the device,
// big-endian, magic "XFSB". Every XFS version (v4 and v5 share these fields).
import type { FsIdentity } from "./blkid.ts";
import { uuidText } from "./blkid.ts";

const XFS_SB_MAGIC = 0x58465342; // "XFSB"

/**
 * The identity of an XFS filesystem whose first bytes are `head` (at least 120), or null.
 * @example probeXfs(first4k) // { fstype: "xfs", uuid: "…", label: "crash" }
 */
export function probeXfs(head: Uint8Array): FsIdentity | null {
  if (head.length < 120) return null;
  const v = new DataView(head.buffer, head.byteOffset, head.byteLength);
  if (v.getUint32(0, false) !== XFS_SB_MAGIC) return null; // sb_magicnum (4)
  // sb_uuid (16) @32; sb_fname (12) @108
  const label = new TextDecoder().decode(head.subarray(108, 120)).replace(/\0[\s\S]*$/, "");
  return { fstype: "xfs", uuid: uuidText(head.subarray(32, 48)), label };
}
