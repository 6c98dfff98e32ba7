// The capture network plan from a routing table, `ip -o -4 addr` text and a sysfs tree built in a scratch folder
// (the shape a virtio NIC has under 6.x), and the capture init's network, NFS and ssh shell (parsed by busybox sh -n).
import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nicModules, parseAddresses, parseRoutes, planNetwork, routeTo, unsupportedKind, type NetSys } from "../../lib/initramfs/network.ts";
import { nfsVersions, remoteCapture } from "../../lib/initramfs/remote_target.ts";
import { captureInit } from "../../lib/initramfs/init.ts";
import { DEFAULT_SETTINGS } from "../../lib/config/settings.ts";
import { elfInterpreter, parseLdd } from "../../lib/initramfs/ssh_client.ts";
import { readFileSync } from "node:fs";

// /proc/net/route of a guest with 10.0.0.2/24 on eth0, a default route via 10.0.0.254 and 192.168.5.0/24 via 10.0.0.7
const ROUTES = `Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\tFE00000A\t0003\t0\t0\t0\t00000000\t0\t0\t0
eth0\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
eth0\t0005A8C0\t0700000A\t0003\t0\t0\t0\t00FFFFFF\t0\t0\t0
`;
const ADDRS = `1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
2: eth0    inet 10.0.0.2/24 brd 10.0.0.255 scope global eth0\\       valid_lft forever preferred_lft forever
3: ens4    inet 172.16.1.9/20 metric 100 brd 172.16.15.255 scope global dynamic ens4\\       valid_lft 3411sec preferred_lft 3411sec
`;

/** A sysfs with eth0 on virtio0 (driver virtio_net, a module) under a PCI device bound to virtio-pci (built in). */
function fakeSysfs(): string {
  const s = mkdtempSync(join(tmpdir(), "kdump-sysfs-"));
  const pci = join(s, "devices/pci0000:00/0000:00:03.0");
  mkdirSync(join(pci, "virtio0/net/eth0"), { recursive: true });
  mkdirSync(join(s, "bus/virtio/drivers/virtio_net"), { recursive: true });
  mkdirSync(join(s, "bus/pci/drivers/virtio-pci"), { recursive: true });
  mkdirSync(join(s, "module/virtio_net"), { recursive: true });
  symlinkSync(join(s, "module/virtio_net"), join(s, "bus/virtio/drivers/virtio_net/module"));
  symlinkSync(join(s, "bus/virtio/drivers/virtio_net"), join(pci, "virtio0/driver"));
  symlinkSync(join(s, "bus/pci/drivers/virtio-pci"), join(pci, "driver"));
  writeFileSync(join(pci, "virtio0/modalias"), "virtio:d00000001v00001AF4\n");
  mkdirSync(join(s, "class/net"), { recursive: true });
  symlinkSync(join(pci, "virtio0/net/eth0"), join(s, "class/net/eth0"));
  symlinkSync(join(pci, "virtio0"), join(pci, "virtio0/net/eth0/device"));
  writeFileSync(join(pci, "virtio0/net/eth0/address"), "52:54:00:12:34:56\n");
  writeFileSync(join(pci, "virtio0/net/eth0/uevent"), "INTERFACE=eth0\nIFINDEX=2\n");
  return s;
}

const net = (sysfs: string, addrs = ADDRS): NetSys => ({ routes: () => ROUTES, addresses: () => addrs, sysfs, modulesAlias: () => null });

describe("network plan", () => {
  test("parseRoutes() reads /proc/net/route's little-endian hex and masks", () => {
    const r = parseRoutes(ROUTES);
    expect(r.map((x) => [x.destination, x.prefix, x.gateway])).toEqual([["0.0.0.0", 0, "10.0.0.254"], ["10.0.0.0", 24, null], ["192.168.5.0", 24, "10.0.0.7"]]);
  });
  test("routeTo() takes the longest prefix: on-link, a network route's gateway, else the default", () => {
    const r = parseRoutes(ROUTES);
    expect(routeTo("10.0.0.1", r)?.gateway).toBeNull();
    expect(routeTo("192.168.5.20", r)?.gateway).toBe("10.0.0.7");
    expect(routeTo("8.8.8.8", r)?.gateway).toBe("10.0.0.254");
    expect(routeTo("8.8.8.8", parseRoutes(ROUTES.split("\n").filter((l) => !l.includes("00000000\tFE")).join("\n")))).toBeNull();
  });
  test("parseAddresses() tells a DHCP (dynamic) address from a static one, iproute2 and busybox alike", () => {
    expect(parseAddresses(ADDRS).map((a) => [a.iface, a.address, a.prefix, a.dynamic])).toEqual([["lo", "127.0.0.1", 8, false], ["eth0", "10.0.0.2", 24, false], ["ens4", "172.16.1.9", 20, true]]);
  });
  test("planNetwork() finds eth0 by route, its MAC, a static address and virtio_net (virtio-pci is built in: named, resolveModules drops it)", () => {
    const s = fakeSysfs();
    try {
      const p = planNetwork("10.0.0.1", net(s));
      expect(p).toEqual({ target: "10.0.0.1", iface: "eth0", mac: "52:54:00:12:34:56", mode: "static", address: "10.0.0.2", prefix: 24, gateway: null, modules: ["virtio_net", "virtio_pci"] });
      expect(planNetwork("192.168.5.1", net(s)).gateway).toBe("10.0.0.7");
      expect(planNetwork("10.0.0.1", net(s, ADDRS.replace("scope global eth0", "scope global dynamic eth0"))).mode).toBe("dhcp");
    } finally {
      rmSync(s, { recursive: true, force: true });
    }
  });
  test("nicModules() falls back to modules.alias when no driver is bound", () => {
    const s = fakeSysfs();
    try {
      rmSync(join(s, "devices/pci0000:00/0000:00:03.0/virtio0/driver"));
      rmSync(join(s, "devices/pci0000:00/0000:00:03.0/driver"));
      expect(nicModules("eth0", s, "alias virtio:d00000001v* virtio_net\nalias virtio:d00000002v* virtio_blk\n")).toEqual(["virtio_net"]);
    } finally {
      rmSync(s, { recursive: true, force: true });
    }
  });
  test("planNetwork() refuses a bond, a VLAN, a bridge, IPv6 and a missing route with 'not supported yet' or what to do", () => {
    const s = fakeSysfs();
    try {
      const dir = join(s, "devices/pci0000:00/0000:00:03.0/virtio0/net/eth0");
      mkdirSync(join(dir, "bonding"));
      expect(unsupportedKind("eth0", s)).toBe("bond");
      expect(() => planNetwork("10.0.0.1", net(s))).toThrow("eth0, a bond: a bond in the capture kernel is not supported yet");
      rmSync(join(dir, "bonding"), { recursive: true });
      writeFileSync(join(dir, "uevent"), "DEVTYPE=vlan\nINTERFACE=eth0\n");
      expect(() => planNetwork("10.0.0.1", net(s))).toThrow("a vlan in the capture kernel is not supported yet");
      writeFileSync(join(dir, "uevent"), "DEVTYPE=bridge\n");
      expect(() => planNetwork("10.0.0.1", net(s))).toThrow("not supported yet");
      expect(() => planNetwork("fe80::1", net(s))).toThrow("is not IPv4: not supported yet");
      expect(() => planNetwork("8.8.8.8", { ...net(s), routes: () => ROUTES.split("\n").slice(0, 1).join("\n") })).toThrow("no route to 8.8.8.8");
    } finally {
      rmSync(s, { recursive: true, force: true });
    }
  });
});

describe("network targets in the capture init", () => {
  const mountinfo = "36 25 0:45 / /mnt rw,relatime shared:1 - nfs 10.0.0.1:/srv/nfs rw,vers=3,rsize=1048576,addr=10.0.0.1\n";
  test("nfsVersions() takes vers= from this system's mount of the export, else tries 4 then 3", () => {
    expect(nfsVersions(mountinfo, "10.0.0.1:/srv/nfs")).toEqual(["3"]);
    expect(nfsVersions(mountinfo, "10.0.0.1:/other")).toEqual(["4", "3"]);
  });
  test("an NFS target: the init brings up eth0, mounts the export under the root's /tmp and the collector writes there; busybox sh parses it", async () => {
    const s = fakeSysfs();
    try {
      const r = remoteCapture({ kind: "nfs", server: "10.0.0.1", export: "/srv/nfs", sub: "/dumps" }, DEFAULT_SETTINGS, net(s), mountinfo)!;
      expect(r.target).toBe("/tmp/kdump-nfs/dumps");
      expect(r.modules).toEqual(["virtio_net", "virtio_pci", "nfsv3", "nfsv4"]);
      const init = captureInit({ modules: [], target: "/var/crash", bun: "/b", kdump: "/k", rootWaitSeconds: 30, remote: r });
      expect(init).toContain("TARGET='/tmp/kdump-nfs/dumps'");
      expect(init).toContain("NET_TIMEOUT=90");
      expect(init).toContain(`mount -t $type -o "$o,addr=10.0.0.1,soft,timeo=100,retrans=3" '10.0.0.1:/srv/nfs' /sysroot/tmp/kdump-nfs`);
      const sh = Bun.spawnSync(["busybox", "sh", "-n", "-c", init], { stderr: "pipe" });
      expect(sh.stderr.toString()).toBe("");
      expect(sh.exitCode).toBe(0);
    } finally {
      rmSync(s, { recursive: true, force: true });
    }
  });
  test("a DHCP interface: the init asks busybox udhcpc within the bound, with the event script packed (parsed by busybox sh -n)", () => {
    const s = fakeSysfs();
    try {
      const r = remoteCapture({ kind: "nfs", server: "10.0.0.1", export: "/srv/nfs", sub: "/" }, DEFAULT_SETTINGS, net(s, ADDRS.replace("scope global eth0", "scope global dynamic eth0")), "")!;
      expect(r.network.mode).toBe("dhcp");
      expect(r.target).toBe("/tmp/kdump-nfs");
      expect(r.setup).toContain('udhcpc -i "$NET_IF" -n -q -f -t $(( $(net_left) / 3 + 1 )) -T 3 -s /bin/udhcpc.script');
      const script = r.files.find((f) => f.path === "bin/udhcpc.script")!;
      expect(script.mode).toBe(0o755);
      for (const text of [Buffer.from(script.data).toString(), r.setup]) expect(Bun.spawnSync(["busybox", "sh", "-n", "-c", text], { stderr: "pipe" }).stderr.toString()).toBe("");
    } finally {
      rmSync(s, { recursive: true, force: true });
    }
  });
  test("an ssh target without a key refuses at start and says to run kdump propagate", () => {
    const s = fakeSysfs();
    try {
      expect(() => remoteCapture({ kind: "ssh", dest: "root@10.0.0.1", port: null, path: "/srv/crash" }, { ...DEFAULT_SETTINGS, sshKey: join(s, "nokey") }, net(s), "")).toThrow("does not exist");
    } finally {
      rmSync(s, { recursive: true, force: true });
    }
  });
  test("an ssh target: the real ssh client and its loader are packed, strict host key checking, the stream renamed only when complete; busybox sh parses it", () => {
    const s = fakeSysfs();
    try {
      const key = join(s, "kdump_id");
      writeFileSync(key, "key\n", { mode: 0o600 });
      writeFileSync(`${key}.known_hosts`, "10.0.0.1 ssh-ed25519 AAAA\n");
      const r = remoteCapture({ kind: "ssh", dest: "root@10.0.0.1", port: 2222, path: "/srv/crash" }, { ...DEFAULT_SETTINGS, sshKey: key, netTimeout: 30 }, net(s), "")!;
      const paths = r.files.map((f) => f.path);
      expect(paths).toContain("bin/ssh");
      expect(paths).toContain(elfInterpreter(readFileSync("/usr/bin/ssh"))!.slice(1));
      expect(paths.some((p) => /libcrypto\.so/.test(p))).toBe(true);
      expect(r.files.find((f) => f.path === "etc/kdump/ssh_key")!.mode).toBe(0o600);
      const init = captureInit({ modules: [], target: "/var/crash", bun: "/b", kdump: "/k", rootWaitSeconds: 30, remote: r });
      expect(init).toContain("-o StrictHostKeyChecking=yes -o UserKnownHostsFile=/etc/kdump/known_hosts");
      expect(init).toContain("-p 2222");
      expect(init).toContain("vmcore.flat-incomplete");
      expect(init).not.toContain("copying with busybox dd"); // no local fallback for a remote target
      // the stream runs the collector's entry, chosen (or kdump.ts) before it
      const [chosen, streamed] = [init.indexOf('[ -e "/sysroot$COLLECTOR" ] || COLLECTOR=$KDUMP'), init.indexOf('"$BUN" "$COLLECTOR" collect --from /proc/vmcore --out -')];
      expect(chosen).toBeGreaterThan(0);
      expect(streamed).toBeGreaterThan(chosen);
      const sh = Bun.spawnSync(["busybox", "sh", "-n", "-c", init], { stderr: "pipe" });
      expect(sh.stderr.toString()).toBe("");
    } finally {
      rmSync(s, { recursive: true, force: true });
    }
  });
  test("parseLdd() takes the libraries and the loader, and names a missing one", () => {
    expect(parseLdd("\tlinux-vdso.so.1 (0x1)\n\tlibz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x2)\n\t/lib64/ld-linux-x86-64.so.2 (0x3)\n")).toEqual(["/lib/x86_64-linux-gnu/libz.so.1", "/lib64/ld-linux-x86-64.so.2"]);
    expect(() => parseLdd("\tlibfoo.so.1 => not found\n")).toThrow("libfoo.so.1 not found");
  });
});
