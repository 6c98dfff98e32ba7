// What the capture can honour today. Every target type parses; the capture init writes to a directory on the
// crashed system's root or on a filesystem of its own (a separate disk, an LV, md; found by UUID=/LABEL=), an NFS export
// or an ssh host (lib/initramfs/remote_target.ts). `start` (and `load`) call
// checkSupported() before they act, so an unsupported config fails at the directive's file and line, not in a crash.
import { ConfigError, type Origin } from "./origin.ts";
import type { KdumpConfig } from "./settings.ts";
import { formatTarget } from "./target.ts";

/**
 * The settings of `c` the capture cannot honour yet, each as a ConfigError at its directive. `mountable` says whether
 * a directory is on a filesystem the capture can mount (the root, or one on a block device); without it, that check
 * is skipped.
 * @example unsupported(loadConfig()).map((e) => e.message)
 */
export function unsupported(c: KdumpConfig, mountable?: (path: string) => boolean): ConfigError[] {
  const out: ConfigError[] = [];
  const at = (k: keyof KdumpConfig["settings"]): Origin => c.origins[k] ?? { file: "(default)", line: 0 };
  const t = c.settings.target;
  if (t.kind !== "dir" && t.kind !== "device" && t.kind !== "raw" && t.kind !== "nfs" && t.kind !== "ssh")
    out.push(new ConfigError(at("target"), `dump target ${formatTarget(t)} (${t.kind}) is not supported yet`, "the capture writes to a directory on the root filesystem, on a local disk (ext4, xfs, btrfs by UUID= or LABEL=), a raw partition, NFS or ssh: use path /var/crash (kdump.conf) or KDUMP_COREDIR (kdump-tools)"));
  else if (t.kind === "dir" && mountable && !mountable(t.path))
    out.push(new ConfigError(at("target"), `dump target ${t.path} is on a filesystem with no block device (the capture mounts the root and disks only): not supported yet`, "choose a directory on the root filesystem or on a local disk"));
  if (c.settings.hostTag === "ip")
    out.push(new ConfigError(at("hostTag"), "HOSTTAG=ip is not supported yet (the capture has no network)", 'use HOSTTAG="hostname"'));
  return out;
}

/**
 * Throws the first unsupported setting of `c` as a ConfigError ("… is not supported yet", with file:line).
 * @example checkSupported(loadConfig(), (p) => mountOf(mounts, p) === rootMount)
 */
export function checkSupported(c: KdumpConfig, mountable?: (path: string) => boolean): void {
  const [first] = unsupported(c, mountable);
  if (first) throw first;
}
