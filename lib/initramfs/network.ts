// The capture kernel's network, planned from the running system: the interface that routes to the target
// (/proc/net/route, longest prefix), its MAC, its IPv4 address and whether DHCP gave it (`ip -o -4 addr`: iproute2 and
// busybox ip both print "dynamic"), its driver (sysfs driver links, else its modalias in modules.alias), and the
// busybox shell that brings it up in the capture initramfs within a bounded time. IPv4 only; bonds, VLANs, bridges
// and teams are refused as not supported yet. Any kernel with sysfs.
import { existsSync, readFileSync, readlinkSync, realpathSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { UsageError } from "../errors.ts";

/** One line of /proc/net/route. */
export interface Route {
  iface: string;
  /** Destination network, dotted quad. */
  destination: string;
  /** Next hop, or null for a directly connected network. */
  gateway: string | null;
  /** Prefix length of the destination. */
  prefix: number;
  metric: number;
}

/** An IPv4 address of an interface. */
export interface IfaceAddress {
  iface: string;
  address: string;
  prefix: number;
  /** True when it has a lifetime (DHCP gave it); false for a static one. */
  dynamic: boolean;
}

/** How the capture kernel reaches the target. */
export interface NetworkPlan {
  /** The target's IPv4 address. */
  target: string;
  /** The interface's name in this system (the capture kernel may name it differently: it is found by MAC). */
  iface: string;
  /** Its MAC address, lower case. */
  mac: string;
  /** "static": the address below is set; "dhcp": busybox udhcpc asks for one. */
  mode: "static" | "dhcp";
  /** Address and prefix length (for static; for dhcp, the one the lease gave last). */
  address: string;
  prefix: number;
  /** Next hop towards the target, or null when it is on the interface's network. */
  gateway: string | null;
  /** Driver modules of the interface (names; resolve them with resolveModules). */
  modules: string[];
}

/** The system the plan is read from; tests pass a fake sysfs root. */
export interface NetSys {
  /** /proc/net/route text. */
  routes(): string;
  /** `ip -o -4 addr show` text. */
  addresses(): string;
  /** The sysfs root ("/sys"). */
  sysfs: string;
  /** /lib/modules/RELEASE/modules.alias text of the capture kernel, or null. */
  modulesAlias(): string | null;
}

/** Dotted quad of a little-endian hex word from /proc/net/route. */
function hexIp(hex: string): string {
  const n = parseInt(hex, 16);
  return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255].join(".");
}

function ipNumber(ip: string): number {
  const p = ip.split(".").map(Number);
  return (((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0);
}

/** True for an IPv4 dotted quad. */
export function isIPv4(s: string): boolean {
  return /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(s) && s.split(".").every((x) => Number(x) < 256);
}

/**
 * Parses /proc/net/route (Iface Destination Gateway Flags RefCnt Use Metric Mask …; addresses little-endian hex).
 * @example parseRoutes(text)[0]  // { iface: "eth0", destination: "0.0.0.0", gateway: "10.0.2.2", prefix: 0, metric: 0 }
 */
export function parseRoutes(text: string): Route[] {
  const out: Route[] = [];
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const flags = parseInt(f[3]!, 16);
    if (!(flags & 1)) continue; // RTF_UP
    const mask = ipNumber(hexIp(f[7]!));
    const prefix = mask === 0 ? 0 : 32 - Math.log2((~mask >>> 0) + 1);
    out.push({ iface: f[0]!, destination: hexIp(f[1]!), gateway: flags & 2 ? hexIp(f[2]!) : null, prefix, metric: Number(f[6]) });
  }
  return out;
}

/** The route the kernel would take to `ip`: the longest matching prefix, then the lowest metric; null when none. */
export function routeTo(ip: string, routes: Route[]): Route | null {
  const n = ipNumber(ip);
  let best: Route | null = null;
  for (const r of routes) {
    const mask = r.prefix === 0 ? 0 : (~0 << (32 - r.prefix)) >>> 0;
    if (((n & mask) >>> 0) !== ((ipNumber(r.destination) & mask) >>> 0)) continue;
    if (!best || r.prefix > best.prefix || (r.prefix === best.prefix && r.metric < best.metric)) best = r;
  }
  return best;
}

/**
 * Parses `ip -o -4 addr show` (iproute2 or busybox): one address per line, "dynamic" when it has a lifetime.
 * @example parseAddresses("2: eth0    inet 10.0.2.15/24 brd 10.0.2.255 scope global dynamic eth0\\ …")
 */
export function parseAddresses(text: string): IfaceAddress[] {
  const out: IfaceAddress[] = [];
  for (const line of text.split("\n")) {
    const m = /^\d+:\s+(\S+?)(?:@\S+)?\s+inet\s+(\d+\.\d+\.\d+\.\d+)\/(\d+)(.*)$/.exec(line.trim());
    if (!m) continue;
    const rest = m[4]!.split("\\")[0]!;
    out.push({ iface: m[1]!, address: m[2]!, prefix: Number(m[3]), dynamic: /\sdynamic(\s|$)/.test(rest) });
  }
  return out;
}

/** What kind of interface `iface` is, when the capture cannot bring it up yet (bond, bridge, vlan, team), else null. */
export function unsupportedKind(iface: string, sysfs: string): string | null {
  const d = join(sysfs, "class/net", iface);
  if (existsSync(join(d, "bonding"))) return "bond";
  if (existsSync(join(d, "bridge"))) return "bridge";
  const uevent = existsSync(join(d, "uevent")) ? readFileSync(join(d, "uevent"), "utf8") : "";
  const type = /^DEVTYPE=(\S+)/m.exec(uevent)?.[1];
  if (type === "vlan" || type === "team" || type === "bond" || type === "bridge") return type;
  if (existsSync(join(d, "brport"))) return "bridge port";
  return null;
}

/** Matches a modules.alias pattern (fnmatch: `*`, `?`, `[…]`) against a modalias. */
function aliasMatches(pattern: string, alias: string): boolean {
  const re = pattern.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${re}$`).test(alias);
}

/**
 * The driver modules of a network interface: each sysfs ancestor's `driver/module` (as the block devices' are
 * found), and the modules whose modules.alias patterns match the device's modalias when no driver is bound.
 * @example nicModules("eth0", "/sys", null)  // ["virtio_net", "virtio_pci"]
 */
export function nicModules(iface: string, sysfs: string, modulesAlias: string | null): string[] {
  const found: string[] = [];
  const add = (m: string) => found.includes(m) || found.push(m);
  const dev = join(sysfs, "class/net", iface, "device");
  if (!existsSync(dev)) return found; // a virtual interface
  const p = realpathSync(dev);
  for (let d = p; d.startsWith(join(sysfs, "devices")) && d !== join(sysfs, "devices"); d = dirname(d)) {
    const drv = join(d, "driver");
    if (!existsSync(drv)) continue;
    const mod = join(drv, "module");
    add((existsSync(mod) ? basename(readlinkSync(mod)) : basename(readlinkSync(drv))).replace(/-/g, "_"));
  }
  const aliasFile = join(p, "modalias");
  if (!existsSync(join(p, "driver")) && modulesAlias && existsSync(aliasFile)) {
    const alias = readFileSync(aliasFile, "utf8").trim();
    for (const line of modulesAlias.split("\n")) {
      const f = line.split(/\s+/);
      if (f[0] === "alias" && f[1] && f[2] && aliasMatches(f[1], alias)) add(f[2].replace(/-/g, "_"));
    }
  }
  return found;
}

/** This machine. */
export function realNetSys(modulesDir: string): NetSys {
  return {
    routes: () => readFileSync("/proc/net/route", "utf8"),
    addresses() {
      const r = Bun.spawnSync(["ip", "-o", "-4", "addr", "show"], { stdout: "pipe", stderr: "pipe" });
      if (!r.success) throw new UsageError("`ip -o -4 addr show` failed: cannot read the interfaces' addresses", { hint: "install iproute2 (or busybox's ip)" });
      return r.stdout.toString();
    },
    sysfs: "/sys",
    modulesAlias: () => (existsSync(join(modulesDir, "modules.alias")) ? readFileSync(join(modulesDir, "modules.alias"), "utf8") : null),
  };
}

/**
 * Plans the capture kernel's network to reach `target` (an IPv4 address): the route's interface, its address
 * (static, or DHCP when the address is dynamic), the next hop and the driver. Throws a UsageError saying what is
 * not supported yet (IPv6, bonds, VLANs, bridges) or missing (no route, no address).
 * @example planNetwork("10.0.2.2", realNetSys("/lib/modules/6.12.117+deb12-cloud-amd64")).iface  // "eth0"
 */
export function planNetwork(target: string, sys: NetSys): NetworkPlan {
  if (!isIPv4(target)) throw new UsageError(`the dump target's address ${target} is not IPv4: not supported yet`, { hint: "give the target by its IPv4 address" });
  const route = routeTo(target, parseRoutes(sys.routes()));
  if (!route) throw new UsageError(`no route to ${target}`, { hint: "the capture reaches the target the way this system does: configure a route to it first" });
  if (route.iface === "lo") throw new UsageError(`${target} is this machine`, { hint: "a network target must be another host" });
  const kind = unsupportedKind(route.iface, sys.sysfs);
  if (kind) throw new UsageError(`the route to ${target} goes through ${route.iface}, a ${kind}: a ${kind} in the capture kernel is not supported yet`, { hint: "route the target through a plain Ethernet interface" });
  const addr = parseAddresses(sys.addresses()).find((a) => a.iface === route.iface);
  if (!addr) throw new UsageError(`${route.iface} (the route to ${target}) has no IPv4 address`, { hint: "configure it before arming kdump" });
  const macFile = join(sys.sysfs, "class/net", route.iface, "address");
  const mac = existsSync(macFile) ? readFileSync(macFile, "utf8").trim().toLowerCase() : "";
  if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(mac)) throw new UsageError(`${route.iface} has no Ethernet address`, { hint: "route the target through an Ethernet interface" });
  return { target, iface: route.iface, mac, mode: addr.dynamic ? "dhcp" : "static", address: addr.address, prefix: addr.prefix, gateway: route.gateway, modules: nicModules(route.iface, sys.sysfs, sys.modulesAlias()) };
}

/** busybox udhcpc's event script: sets the leased address and router (it configures nothing by itself). */
export const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/\${mask:-24}" dev "$interface"
    for r in $router; do ip route add default via "$r" dev "$interface"; break; done
    echo "$ip/\${mask:-24}" > /tmp/dhcp.lease ;;
esac
`;

/**
 * Shell functions for the capture init (busybox ash): `net_up` finds the interface by MAC, waits for the link,
 * sets the address (or asks DHCP) and the route, each step logged, all of it within `timeoutSeconds` counted from
 * the call; on failure it logs which step failed and returns 1. `net_left` prints the seconds left.
 */
export function networkScript(p: NetworkPlan, timeoutSeconds: number): string {
  const route = p.gateway ? `ip route add ${p.target}/32 via ${p.gateway} dev "$NET_IF" 2>/dev/null; ip route add default via ${p.gateway} dev "$NET_IF" 2>/dev/null` : "";
  const address = p.mode === "static"
    ? `ip addr add ${p.address}/${p.prefix} dev "$NET_IF" || { log "network: cannot set ${p.address}/${p.prefix} on $NET_IF"; return 1; }
  log "network: $NET_IF has ${p.address}/${p.prefix} (static, as in the first kernel)"`
    : `log "network: asking DHCP for an address on $NET_IF"
  udhcpc -i "$NET_IF" -n -q -f -t $(( $(net_left) / 3 + 1 )) -T 3 -s /bin/udhcpc.script >/dev/null 2>&1 || { log "network: no DHCP lease on $NET_IF within the bound"; return 1; }
  log "network: $NET_IF has $(cat /tmp/dhcp.lease) from DHCP"`;
  return `NET_TIMEOUT=${timeoutSeconds}
net_left() { l=$(( NET_DEADLINE - $(cut -d. -f1 /proc/uptime) )); [ $l -gt 0 ] && echo $l || echo 0; }
net_up() {
  NET_DEADLINE=$(( $(cut -d. -f1 /proc/uptime) + NET_TIMEOUT ))
  log "network: bringing up the interface with MAC ${p.mac} (${p.iface} in the first kernel), to reach ${p.target} within $NET_TIMEOUT s"
  NET_IF=
  while [ -z "$NET_IF" ]; do
    for d in /sys/class/net/*; do [ "$(cat $d/address 2>/dev/null)" = "${p.mac}" ] && NET_IF=\${d##*/}; done
    [ -n "$NET_IF" ] && break
    [ $(net_left) -gt 0 ] || { log "network: step 'interface' failed: no interface has MAC ${p.mac} after $NET_TIMEOUT s (is its driver in the initramfs?)"; return 1; }
    sleep 0.2
  done
  ip link set lo up
  ip link set "$NET_IF" up || { log "network: step 'link' failed: cannot set $NET_IF up"; return 1; }
  while [ "$(cat /sys/class/net/$NET_IF/carrier 2>/dev/null)" != 1 ]; do
    [ $(net_left) -gt 0 ] || { log "network: step 'link' failed: no carrier on $NET_IF after $NET_TIMEOUT s (cable unplugged, or the switch port down)"; return 1; }
    sleep 0.2
  done
  log "network: link up on $NET_IF"
  ${address}
  ${route}
  return 0
}
`;
}
