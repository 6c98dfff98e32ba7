// Network dump targets in the capture init (busybox ash): after the crashed root is mounted, bring up the network
// (network.ts), then either mount the NFS export under the root's /tmp tmpfs, so the collector writes
// `<path>/<host>-<date>/vmcore` there as on a local disk, or check the ssh host and key and stream the collector's
// flattened output through the real OpenSSH client into `<path>/<host>-<date>/vmcore.flat`, renamed on the remote side
// only when complete. Every step that waits for the network is bounded by the config's netTimeout and logs its name.
import { UsageError } from "../errors.ts";
import type { Target } from "../config/target.ts";
import type { Settings } from "../config/settings.ts";
import { remoteSaveCommand } from "../collect/ssh_target.ts";
import { isIPv4, networkScript, UDHCPC_SCRIPT, type NetSys, planNetwork, type NetworkPlan } from "./network.ts";
import { CAPTURE_KNOWN_HOSTS, CAPTURE_SSH_KEY, sshClientFiles, type PackedFile } from "./ssh_client.ts";

/** What a network target adds to the capture init and its initramfs. */
export interface RemoteCapture {
  /** Shell variables and functions, defined before the script runs. */
  setup: string;
  /** Commands run once the root is mounted (bring the network up, mount or check the target); they call `failed`. */
  up: string;
  /** Commands that save the dump instead of the local collector (ssh), setting `saved` and `status`; or null. */
  save: string | null;
  /** The directory the collector writes to, inside the crashed root (NFS), or null (ssh). */
  target: string | null;
  /** Modules to add (the NIC's driver, the NFS client). */
  modules: string[];
  /** Files to add (the ssh client, its key, known_hosts, the DHCP script). */
  files: PackedFile[];
  /** The network plan, for messages. */
  network: NetworkPlan;
}

/** How the capture host resolves a host name (getent, as the C library would), or null. */
export type Resolver = (host: string) => string | null;

/** The first IPv4 address of `host` from `getent ahostsv4`. */
export const getentResolver: Resolver = (host) => {
  const r = Bun.spawnSync(["getent", "ahostsv4", host], { stdout: "pipe", stderr: "pipe" });
  return r.success ? (/^(\d+\.\d+\.\d+\.\d+)\s/m.exec(r.stdout.toString())?.[1] ?? null) : null;
};

const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The NFS client modules: v3 and v4 (the kernel's text mount talks to mountd itself; no mount.nfs). */
export const NFS_MODULES = ["nfsv3", "nfsv4"];

function address(host: string, resolve: Resolver): string {
  if (isIPv4(host)) return host;
  const ip = resolve(host);
  if (!ip) throw new UsageError(`cannot resolve ${host} to an IPv4 address`, { hint: "the capture kernel has no DNS: the address is fixed when kdump starts; fix name resolution or give the address" });
  return ip;
}

/** NFS versions to try, from the export's mount in this system when there is one (vers=), else 4 then 3. */
export function nfsVersions(mountinfo: string, source: string): string[] {
  for (const line of mountinfo.split("\n")) {
    const f = line.split(" ");
    const dash = f.indexOf("-");
    if (dash < 0 || !/^nfs4?$/.test(f[dash + 1] ?? "") || f[dash + 2] !== source) continue;
    const v = /(?:^|,)vers=([\d.]+)/.exec(f[dash + 3] ?? "")?.[1];
    if (v) return [v];
  }
  return ["4", "3"];
}

/**
 * The capture init's pieces for an NFS or ssh target (null for a local one). Reads the routing table, the
 * interface and, for ssh, the key and the host keys recorded by `kdump propagate`; throws a UsageError naming
 * what is missing or not supported yet.
 * @example remoteCapture(cfg.settings.target, cfg.settings, realNetSys(modulesDir), mountinfo)?.modules
 */
export function remoteCapture(t: Target, s: Settings, net: NetSys, mountinfo: string, resolve: Resolver = getentResolver): RemoteCapture | null {
  if (t.kind !== "nfs" && t.kind !== "ssh") return null;
  const host = t.kind === "nfs" ? t.server : t.dest.replace(/^.*@/, "");
  const ip = address(host, resolve);
  const network = planNetwork(ip, net);
  const base: PackedFile[] = network.mode === "dhcp" ? [{ path: "bin/udhcpc.script", data: Buffer.from(UDHCPC_SCRIPT), mode: 0o755 }] : [];
  const setup = networkScript(network, s.netTimeout);
  const bounded = (what: string) => `t=$(net_left); [ $t -gt 0 ] || { log "${what}: no time left of the $NET_TIMEOUT s bound"; failed; }`;
  if (t.kind === "nfs") {
    const source = `${ip}:${t.export}`;
    const opts = `soft,timeo=${s.nfsTimeo ?? 100},retrans=${s.nfsRetrans ?? 3}`;
    const at = "/tmp/kdump-nfs";
    const up = `net_up || failed
mkdir -p /sysroot${at}
nfs_ok=; tries=0
# a server that is still booting, or a switch port still learning, answers later: try again until the bound
while [ -z "$nfs_ok" ] && [ $(net_left) -gt 0 ]; do
  tries=$((tries+1))
  for v in ${nfsVersions(mountinfo, `${t.server}:${t.export}`).join(" ")}; do
    t=$(net_left); [ $t -gt 0 ] || break
    case "$v" in 3*) type=nfs; o="vers=$v,nolock" ;; *) type=nfs4; o="vers=$v" ;; esac
    [ $tries -eq 1 ] && log "nfs: step 'mount': ${t.server}:${t.export} as NFS v$v (${source}, $t s left)"
    if timeout -s KILL $t mount -t $type -o "$o,addr=${ip},${opts}" ${sh(source)} /sysroot${at} 2>/tmp/mount.err; then nfs_ok=1; log "nfs: mounted as NFS v$v"; break; fi
    [ $tries -eq 1 ] && log "nfs: mount as NFS v$v failed: $(tail -n 1 /tmp/mount.err); trying again until the bound"
  done
  [ -n "$nfs_ok" ] || sleep 2
done
[ -n "$nfs_ok" ] || { log "nfs: step 'mount' failed: ${t.server}:${t.export} could not be mounted within the $NET_TIMEOUT s bound ($tries tries; last: $(tail -n 1 /tmp/mount.err))"; failed; }
log "nfs: ${t.server}:${t.export} mounted"
`;
    return { setup, up, save: null, target: `${at}${t.sub === "/" ? "" : t.sub}`, modules: [...network.modules, ...NFS_MODULES], files: base, network };
  }
  if (!/^[\w./-]+$/.test(t.path)) throw new UsageError(`ssh target path ${t.path} has characters the capture does not quote`, { hint: "use letters, digits, . _ - and /" });
  const path = t.path.replace(/\/+$/, "") || "/";
  const ssh = `ssh -F /dev/null -i ${CAPTURE_SSH_KEY} -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=${CAPTURE_KNOWN_HOSTS} -o GlobalKnownHostsFile=/dev/null -o ServerAliveInterval=5 -o ServerAliveCountMax=${Math.max(2, Math.ceil(s.netTimeout / 5))}${t.port ? ` -p ${t.port}` : ""}`;
  const setup2 = `${setup}
ssh_to() { ${ssh} -o ConnectTimeout=$1 ${sh(t.dest.includes("@") ? `${t.dest.replace(/@.*$/, "")}@${ip}` : ip)} "$2"; }
ssh_reason() { grep -v '^@\\|^$\\|^Warning: Permanently' /tmp/ssh.err | tail -n 2 | tr '\\n' ' '; }
SSH_SAVE=${sh(remoteSaveCommand("@DIR@", "vmcore.flat"))}
`;
  const up = `net_up || failed
shost=$(head -n1 /sysroot/etc/hostname 2>/dev/null | tr -c 'A-Za-z0-9._\\n-' _); [ -n "$shost" ] || shost=localhost
DUMP_DIR=${path === "/" ? "" : path}/$shost-$(date -u +%Y-%m-%d-%H:%M:%S)
${bounded("ssh")}
log "ssh: step 'connect': ${t.dest} (${ip}), host key checked against the one kdump propagate recorded"
ssh_to $t "umask 077 && mkdir -p $DUMP_DIR" 2>/tmp/ssh.err </dev/null || { log "ssh: step 'connect' failed: $(ssh_reason)"; failed; }
log "ssh: ${t.dest} accepted the key; the dump goes to $DUMP_DIR"
`;
  const save = `log "ssh: step 'stream': the collector's flattened output to ${t.dest}:$DUMP_DIR/vmcore.flat"
{ timeout -s KILL $limit chroot /sysroot "$BUN" "$COLLECTOR" collect --from /proc/vmcore --out - $COLLECT_ARGS; echo $? > /tmp/collect.rc; } | ssh_to 30 "$(printf "%s" "$SSH_SAVE" | sed "s|@DIR@|$DUMP_DIR|g")" 2>/tmp/ssh.err
ssh_rc=$?; status=$(cat /tmp/collect.rc 2>/dev/null || echo 1)
if [ $status -eq 0 ] && [ $ssh_rc -eq 0 ]; then saved=1; log "saved ${t.dest}:$DUMP_DIR/vmcore.flat by the collector over ssh"
else [ $status -eq 0 ] && status=$ssh_rc; log "ssh: step 'stream' failed (collector $(cat /tmp/collect.rc 2>/dev/null), ssh $ssh_rc): $(ssh_reason)"; fi
{ dmesg; echo; cat /tmp/capture.log; } | ssh_to 30 "umask 077 && cat > $DUMP_DIR/kexec-dmesg.log" 2>/dev/null && log "capture log saved as ${t.dest}:$DUMP_DIR/kexec-dmesg.log"
`;
  return { setup: setup2, up, save, target: null, modules: network.modules, files: [...base, ...sshClientFiles(s.sshKey)], network };
}
