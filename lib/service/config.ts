// The config as the service uses it: the one model of lib/config/ (kdump.conf, /etc/sysconfig/kdump, kdump-tools,
// hook folders) read from the box's root, refused at its file and line when the capture cannot honour it yet, plus
// the files it came from (inputs of the capture image).
import { loadConfig, rootFs } from "../config/load.ts";
import { formatOrigin } from "../config/origin.ts";
import type { KdumpConfig } from "../config/settings.ts";
import { mountStack } from "../collect/devices.ts";
import { checkSupported } from "../config/supported.ts";
import { captureSettings } from "../config/capture_settings.ts";
import { formatTarget } from "../config/target.ts";
import { knownHostsFor } from "../initramfs/ssh_client.ts";
import { mountOf, parseMountinfo } from "../initramfs/modules.ts";
import type { ServiceHost } from "./host.ts";

/** What start needs from the config. */
export interface ServiceConfig {
  /** The model, as planLoad() takes it. */
  config: KdumpConfig;
  /** Directory on the root filesystem for dumps. */
  target: string;
  /** The config files and hook folders read (inputs of the capture image). */
  files: string[];
  /** What the readers accepted without (full) effect, with file and line. */
  warnings: string[];
}

/**
 * Reads the box's config. Throws ConfigError (file:line, what to do) for a value it cannot use or a target the
 * capture does not support yet; nothing is loaded or unloaded before this succeeds.
 * @example serviceConfig(realServiceHost).target  // "/var/crash"
 */
export function serviceConfig(h: ServiceHost): ServiceConfig {
  const config = loadConfig(rootFs(h.root));
  const mounts = parseMountinfo(h.sys.read("/proc/self/mountinfo") ?? "");
  const root = mountOf(mounts, "/");
  const info = h.sys.read("/proc/self/mountinfo") ?? "";
  checkSupported(config, root ? (p) => mountOf(mounts, p)?.mountpoint === root.mountpoint || mountStack(p, info) !== null : undefined);
  return {
    config,
    target: config.settings.target.kind === "nfs" || config.settings.target.kind === "ssh" ? formatTarget(config.settings.target) : captureSettings(config).target,
    // an ssh target's key and recorded host keys go into the image: a new `kdump propagate` rebuilds it
    files: config.settings.target.kind === "ssh" ? [...config.sources, config.settings.sshKey, knownHostsFor(config.settings.sshKey)] : config.sources,
    warnings: config.notes.map((n) => `${formatOrigin(n)}: ${n.text}`),
  };
}
