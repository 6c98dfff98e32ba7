// `kdump enable` / `kdump disable`: install (remove) the unit, the kernel hooks and the hotplug rule, and enable
// (disable) the unit with systemctl. Refuses while another kdump service is enabled unless --takeover, which
// disables that one and keeps its config files as the toolkit's config. Prerequisites and config are checked first.
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { RefusedError, KdumpError } from "../errors.ts";
import { collectorPaths } from "../load/load.ts";
import { otherServices, type OtherService } from "./coexist.ts";
import { serviceConfig } from "./config.ts";
import { realServiceHost, type ServiceHost } from "./host.ts";
import { requirePrerequisites } from "./prerequisites.ts";
import {
  KERNEL_INSTALL_PLUGIN, kernelHookText, kernelInstallText, noSystemdText, POSTINST_HOOK, POSTRM_HOOK, UDEV_RULE, udevRuleText, UNIT_NAME, UNIT_PATH, unitText, type Command,
} from "./unit.ts";

/** What enable did. */
export interface EnableResult {
  /** False where there is no systemd: nothing enabled, `instructions` says what to add. */
  systemd: boolean;
  /** Files written. */
  installed: string[];
  /** Other services disabled by --takeover. */
  tookOver: OtherService[];
  /** Config files the toolkit reads (theirs, after a takeover). */
  configFiles: string[];
  /** Where there is no systemd: what to add to the init system. */
  instructions?: string;
}

/** True when the box runs systemd (sd_booted: /run/systemd/system exists). */
export function hasSystemd(h: ServiceHost): boolean {
  return existsSync(join(h.root || "/", "/run/systemd/system"));
}

function put(h: ServiceHost, path: string, text: string, mode: number): void {
  const p = join(h.root || "/", path);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, text, { mode });
  chmodSync(p, mode);
}

function systemctl(h: ServiceHost, ...args: string[]): void {
  const r = h.run(["systemctl", ...args]);
  if (r.code !== 0) throw new KdumpError(`systemctl ${args.join(" ")} failed (${r.code})`, { hint: r.output.split("\n").pop() || "see journalctl -xe" });
}

/**
 * `kdump enable`: the box arms itself at every boot from now on (`now` also starts it).
 * @example enable({ takeover: true }).tookOver.map((s) => s.unit)  // ["kdump-tools.service"]
 */
export function enable(o: { takeover?: boolean } = {}, h: ServiceHost = realServiceHost, cmd: Command = collectorPaths()): EnableResult {
  const others = otherServices(h).filter((s) => s.enabledBy);
  if (others.length && !o.takeover) {
    const s = others[0]!;
    throw new RefusedError(
      `refusing to enable: ${s.package}'s ${s.unit} is enabled (${s.enabledBy}); two kdump services would fight over the one crash reservation`,
      { hint: `run \`kdump enable --takeover\` to disable ${s.unit} and keep reading ${s.config.join(" and ")}, or \`systemctl disable ${s.unit}\` yourself` },
    );
  }
  requirePrerequisites(h);
  const c = serviceConfig(h);
  if (!hasSystemd(h)) return { systemd: false, installed: [], tookOver: [], configFiles: c.files, instructions: noSystemdText(cmd) };
  for (const s of others) systemctl(h, "disable", "--now", s.unit);
  put(h, UNIT_PATH, unitText(cmd), 0o644);
  put(h, POSTINST_HOOK, kernelHookText(cmd, false), 0o755);
  put(h, POSTRM_HOOK, kernelHookText(cmd, true), 0o755);
  const installed = [UNIT_PATH, POSTINST_HOOK, POSTRM_HOOK];
  if (h.run(["sh", "-c", "command -v kernel-install"]).code === 0) {
    put(h, KERNEL_INSTALL_PLUGIN, kernelInstallText(cmd), 0o755);
    installed.push(KERNEL_INSTALL_PLUGIN);
  }
  put(h, UDEV_RULE, udevRuleText(cmd), 0o644);
  installed.push(UDEV_RULE);
  systemctl(h, "daemon-reload");
  systemctl(h, "enable", UNIT_NAME);
  return { systemd: true, installed, tookOver: others, configFiles: c.files };
}

/** `kdump disable`: the unit, hooks and rule go; the loaded capture kernel stays until `kdump stop` or a reboot. */
export function disable(h: ServiceHost = realServiceHost): { removed: string[] } {
  const removed: string[] = [];
  if (hasSystemd(h) && existsSync(join(h.root || "/", UNIT_PATH))) systemctl(h, "disable", UNIT_NAME);
  for (const p of [UNIT_PATH, POSTINST_HOOK, POSTRM_HOOK, KERNEL_INSTALL_PLUGIN, UDEV_RULE]) {
    const f = join(h.root || "/", p);
    if (existsSync(f)) {
      rmSync(f, { force: true });
      removed.push(p);
    }
  }
  if (hasSystemd(h)) h.run(["systemctl", "daemon-reload"]);
  return { removed };
}
