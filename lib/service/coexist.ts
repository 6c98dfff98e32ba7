// Other kdump services on the box: Debian/Ubuntu's kdump-tools (kdump-tools.service, or its SysV script) and
// Fedora/RHEL's kdump-utils (kdump.service, kexec-tools before 2024). Two services would fight over the one crash
// reservation, so `enable` refuses while one is enabled, and `enable --takeover` disables it.
import { existsSync, lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { ServiceHost } from "./host.ts";

/** Another kdump service. */
export interface OtherService {
  /** The package ("kdump-tools", "kdump-utils"). */
  package: string;
  /** Its systemd unit. */
  unit: string;
  /** The unit file or init script found. */
  file: string;
  /** The symlink (or rc link) that enables it, or null when it is installed but not enabled. */
  enabledBy: string | null;
  /** The config files it reads, which the toolkit keeps reading after a takeover. */
  config: string[];
}

const KNOWN = [
  { package: "kdump-tools", unit: "kdump-tools.service", sysv: "kdump-tools", config: ["/etc/default/kdump-tools"] },
  { package: "kdump-utils", unit: "kdump.service", sysv: null, config: ["/etc/kdump.conf", "/etc/sysconfig/kdump"] },
];

const UNIT_DIRS = ["/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"];

/** The `*.wants/UNIT` link under /etc/systemd/system that enables `unit`, or null. */
function wantsLink(h: ServiceHost, unit: string): string | null {
  const dir = join(h.root || "/", "/etc/systemd/system");
  if (!existsSync(dir)) return null;
  // the link points at an absolute path on the box: look at the link itself, not its target
  for (const d of readdirSync(dir)) if (d.endsWith(".wants") && lstatSync(join(dir, d, unit), { throwIfNoEntry: false })) return `/etc/systemd/system/${d}/${unit}`;
  return null;
}

/** An `S??name` link in /etc/rc2.d…rc5.d (a SysV service enabled), or null. */
function rcLink(h: ServiceHost, name: string): string | null {
  for (const n of [2, 3, 4, 5]) {
    const dir = join(h.root || "/", `/etc/rc${n}.d`);
    if (!existsSync(dir)) continue;
    const f = readdirSync(dir).find((x) => new RegExp(`^S\\d\\d${name}$`).test(x)); // a link whose target is on the box
    if (f) return `/etc/rc${n}.d/${f}`;
  }
  return null;
}

/**
 * The other kdump services installed on the box, enabled or not.
 * @example otherServices(realServiceHost).filter((s) => s.enabledBy)
 */
export function otherServices(h: ServiceHost): OtherService[] {
  const out: OtherService[] = [];
  for (const k of KNOWN) {
    const unitFile = UNIT_DIRS.map((d) => `${d}/${k.unit}`).find((p) => existsSync(join(h.root || "/", p)));
    const sysv = k.sysv && existsSync(join(h.root || "/", `/etc/init.d/${k.sysv}`)) ? `/etc/init.d/${k.sysv}` : null;
    const file = unitFile ?? sysv;
    if (!file) continue;
    out.push({ package: k.package, unit: k.unit, file, enabledBy: wantsLink(h, k.unit) ?? (k.sysv ? rcLink(h, k.sysv) : null), config: k.config });
  }
  return out;
}
