// The one target grammar: where a dump goes. kdump.conf's path/ext4/xfs/btrfs/raw/nfs/ssh directives, kdump-tools'
// KDUMP_COREDIR/NFS/SSH and `kdump collect --out` all become a Target; the collector opens it (lib/collect/target.ts).
import { UsageError } from "../errors.ts";

/** Where dumps go. */
export type Target =
  /** A directory on a filesystem that is mounted already (in the capture kernel: the crashed system's root). */
  | { kind: "dir"; path: string }
  /** A filesystem on a device (/dev/…, UUID=…, LABEL=…) mounted for the dump; `sub` is the folder in it. */
  | { kind: "device"; spec: string; sub: string; fstype?: string }
  /** A raw block device the flattened stream is written onto. */
  | { kind: "raw"; device: string }
  /** An NFS export (server:/export), `sub` the folder in it. */
  | { kind: "nfs"; server: string; export: string; sub: string }
  /** A folder on another host, written through ssh. */
  | { kind: "ssh"; dest: string; port: number | null; path: string }
  /** Standard output (the flattened stream). */
  | { kind: "stdout" };

/** The default target of every distro: /var/crash on the root filesystem. */
export const DEFAULT_TARGET: Target = { kind: "dir", path: "/var/crash" };

/**
 * Parses `kdump collect --out`: `-` (stdout), `ssh://[user@]host[:port]/path`, `nfs://server/export[:/sub]`,
 * `UUID=…[:/sub]` or `LABEL=…[:/sub]`, a `/dev/…` block device (raw), else a directory.
 * @example parseTarget("LABEL=crash:/dumps")  // { kind: "device", spec: "LABEL=crash", sub: "/dumps" }
 */
export function parseTarget(out: string): Target {
  if (out === "-") return { kind: "stdout" };
  const ssh = /^ssh:\/\/([^/:]+)(?::(\d+))?(\/.*)$/.exec(out);
  if (ssh) return { kind: "ssh", dest: ssh[1]!, port: ssh[2] ? Number(ssh[2]) : null, path: ssh[3]! };
  if (out.startsWith("ssh:")) throw new UsageError(`cannot parse ssh target ${out}`, { hint: "write ssh://user@host[:port]/absolute/path" });
  const nfs = /^nfs:\/\/([^/:]+)(\/[^:]*)(?::(\/.*))?$/.exec(out);
  if (nfs) return { kind: "nfs", server: nfs[1]!, export: nfs[2]!, sub: nfs[3] ?? "/" };
  if (out.startsWith("nfs:")) throw new UsageError(`cannot parse nfs target ${out}`, { hint: "write nfs://server/export[:/folder]" });
  const dev = /^((?:UUID|LABEL)=[^:]+)(?::(\/.*))?$/.exec(out);
  if (dev) return { kind: "device", spec: dev[1]!, sub: dev[2] ?? "/" };
  if (out.startsWith("/dev/")) return { kind: "raw", device: out };
  if (!out) throw new UsageError("--out is empty", { hint: "give a directory, a device (UUID=, LABEL=, /dev/…), ssh://…, nfs://… or -" });
  return { kind: "dir", path: out };
}

/**
 * A target in the --out grammar: parseTarget() reads it back (a device's filesystem type is left to the mount).
 * @example formatTarget({ kind: "nfs", server: "srv", export: "/export", sub: "/crash" })  // "nfs://srv/export:/crash"
 */
export function formatTarget(t: Target): string {
  switch (t.kind) {
    case "dir":
      return t.path;
    case "device":
      return `${t.spec}${t.sub === "/" ? "" : `:${t.sub}`}`;
    case "raw":
      return t.device;
    case "nfs":
      return `nfs://${t.server}${t.export}${t.sub === "/" ? "" : `:${t.sub}`}`;
    case "ssh":
      return `ssh://${t.dest}${t.port ? `:${t.port}` : ""}${t.path}`;
    case "stdout":
      return "-";
  }
}
