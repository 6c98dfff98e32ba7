// The NFS target of `kdump collect`: mounts server:/export with the kernel's text mount options (the kernel talks to
// mountd and rpcbind itself; no mount.nfs), v4 then v3 unless told, soft so a dead server cannot hang the writer,
// under /run/kdump-nfs-PID; the dump goes under its `sub` folder as on a local disk, and the export is unmounted after.
import { mkdirSync, rmdirSync } from "node:fs";
import { UsageError } from "../errors.ts";
import type { Target } from "../config/target.ts";
import { getentResolver, type Resolver } from "../initramfs/remote_target.ts";
import { isIPv4 } from "../initramfs/network.ts";
import type { MountCalls } from "../sys/mount.ts";

/** The kernel's mount(2) arguments for one NFS version. */
export function nfsMountArgs(version: string, ip: string, timeo = 100, retrans = 3): { fstype: string; data: string } {
  const v3 = version.startsWith("3");
  return { fstype: v3 ? "nfs" : "nfs4", data: `vers=${version}${v3 ? ",nolock" : ""},addr=${ip},soft,timeo=${timeo},retrans=${retrans}` };
}

/**
 * Mounts the export of `t`; returns the mount point and how to unmount it. Tries `versions` in order.
 * @example mountNfs({ kind: "nfs", server: "10.0.0.1", export: "/srv/nfs", sub: "/" }, libcMount).at  // "/run/kdump-nfs-4242"
 */
export function mountNfs(t: Extract<Target, { kind: "nfs" }>, mount: MountCalls, versions = ["4", "3"], resolve: Resolver = getentResolver): { at: string; unmount(): void } {
  const ip = isIPv4(t.server) ? t.server : resolve(t.server);
  if (!ip) throw new UsageError(`cannot resolve ${t.server} to an IPv4 address`, { hint: "fix name resolution or give the server's address" });
  const at = `/run/kdump-nfs-${process.pid}`;
  mkdirSync(at, { recursive: true, mode: 0o700 });
  const errors: string[] = [];
  for (const v of versions) {
    const a = nfsMountArgs(v, ip);
    try {
      mount.mount(`${ip}:${t.export}`, at, a.fstype, 0, a.data);
      return { at, unmount: () => (mount.umount(at), rmdirSync(at)) }; // rmdir: never deletes through a mount left in place
    } catch (e) {
      errors.push(`v${v}: ${(e as Error).message}`);
    }
  }
  rmdirSync(at);
  throw new UsageError(`cannot mount ${t.server}:${t.export} (${errors.join("; ")})`, { hint: "is the server up and the export allowed for this host? is the nfs module available (modprobe nfsv4)?" });
}
