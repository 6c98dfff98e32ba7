// What the capture initramfs needs to bring up the crashed system's storage, found from the running system (like
// dracut's host-only mode): the drivers of the disks under the root and the dump target (from their modaliases and
// the capture kernel's aliases), the md and dm layers' modules, the filesystems' modules, the host's real `lvm`
// (lvm2) and `mdadm` with their libraries and a minimal config, and the /init step that assembles the md arrays and
// activates only the logical volumes needed, bounded in time.
import { readFileSync, realpathSync } from "node:fs";
import { basename, join } from "node:path";
import { UsageError } from "../errors.ts";
import { findDevice, probeDevice, type FsIdentity } from "../collect/blkid.ts";
import { blockStack, layerModules, mountStack, stackNodes, type BlockNode, type MountStack } from "../collect/devices.ts";
import { mountPointOf } from "../collect/target.ts";
import type { Target } from "../config/target.ts";
import { aliasTable, modulesForAlias } from "./modalias.ts";
import type { ModuleIndex } from "./modules.ts";
import { findProgram, programFiles } from "./binaries.ts";

/** What the capture must bring up, and what goes into the image for it. */
export interface StoragePlan {
  /** Module names to load (the disks' drivers, md/dm layers, filesystems), before dependencies are resolved. */
  modules: string[];
  /** Logical volumes to activate ("vg/lv"), each once. */
  lvs: string[];
  /** md arrays to assemble: the device name and the array UUID (mdadm's colon form). */
  arrays: { name: string; uuid: string }[];
  /** Locked LUKS devices under a needed filesystem (the capture cannot open them without a key). */
  crypt: { name: string; luksUuid: string | null }[];
  /** Files for the image: path in the image → a host file's path (string) or contents (bytes). */
  files: Record<string, string | Uint8Array>;
  /** The shell function `storage_up` for /init ("" when nothing needs bringing up). */
  script: string;
}

/**
 * The lvm.conf of the capture: no udev (the initramfs runs none: libdevmapper makes the /dev/mapper nodes itself),
 * no metadata backups (the root may be read-only or not mounted yet), no monitoring daemons.
 */
export const CAPTURE_LVM_CONF = `devices {
  obtain_device_list_from_udev = 0
  external_device_info_source = "none"
  use_devicesfile = 0
}
activation {
  udev_sync = 0
  udev_rules = 0
  verify_udev_operations = 1
  monitoring = 0
}
global {
  use_lvmpolld = 0
  event_activation = 0
  locking_dir = "/run/lock/lvm"
}
backup {
  backup = 0
  archive = 0
}
`;

/** The host's view of md arrays: `mdadm --detail --export /dev/NAME` as key=value text. */
export type MdDetail = (name: string) => string | null;

const realMdDetail: MdDetail = (name) => {
  const mdadm = findProgram("mdadm");
  if (!mdadm) return null;
  const r = Bun.spawnSync([mdadm, "--detail", "--export", `/dev/${name}`], { stdout: "pipe", stderr: "pipe" });
  return r.exitCode === 0 ? r.stdout.toString() : null;
};

/** Where the capture's programs come from; tests substitute them. */
export interface StorageHost {
  /** Host path of a program, or null when absent. */
  program(name: string): string | null;
  /** The files a program needs (itself and its libraries). */
  programFiles(path: string): [string, string][];
  mdDetail: MdDetail;
  /** A device's filesystem identity (blkid). */
  probe(device: string): FsIdentity | null;
  /** The device with a UUID=/LABEL=. */
  findDevice(spec: string): (FsIdentity & { device: string }) | null;
}

/** This machine. */
export const realStorageHost: StorageHost = { program: (n) => findProgram(n), programFiles, mdDetail: realMdDetail, probe: probeDevice, findDevice: (s) => findDevice(s) };

/** A filesystem the capture mounts for the dump, besides the root: the dump target's own disk. */
export interface TargetMount {
  /** How /init finds it: UUID=…, LABEL=… (busybox findfs reads ext4, XFS and btrfs) or a /dev path. */
  spec: string;
  /** Its filesystem type. */
  fstype: string;
  /** Where it is mounted, as the collector in the chroot sees it (its mount point on the running system). */
  dir: string;
}

/**
 * Plans the bring-up of the filesystems in `mounts` (the root, the dump target) for a capture kernel whose modules
 * are `idx`, and the mount of `target` when the dump goes to a filesystem of its own. `timeoutSeconds` bounds the
 * whole storage step in the capture, from storage_up to the target mounted: past it, /init runs the failure action.
 * @example planStorage([mountStack("/")!], moduleIndex("/lib/modules/6.12.117+deb12-cloud-amd64"), 90).lvs // ["vg0/root"]
 */
export function planStorage(mounts: MountStack[], idx: ModuleIndex, timeoutSeconds: number, target: TargetMount | null = null, host: StorageHost = realStorageHost): StoragePlan {
  const nodes = mounts.flatMap((m) => stackNodes(m.stack));
  const modules = new Set<string>();
  const aliases = nodes.some((n) => n.modaliases.length) ? aliasTable(idx) : [];
  const known = (m: string) => idx.files.has(m) || idx.builtin.has(m);
  for (const n of nodes) {
    for (const a of n.modaliases) for (const m of modulesForAlias(a, aliases)) modules.add(m);
    for (const d of n.drivers) if (known(d)) modules.add(d); // what the running kernel bound, in case an alias is missing
    for (const m of layerModules(n)) if (known(m)) modules.add(m);
  }
  for (const f of [...mounts.map((m) => m.mount.fstype), ...(target ? [target.fstype] : [])]) if (known(f)) modules.add(f);
  const lvs = unique(nodes.filter((n) => n.kind === "lvm" && n.lvm).map((n) => `${n.lvm!.vg}/${n.lvm!.lv}`));
  const arrays = unique(nodes.filter((n) => n.kind === "md").map((n) => n.name)).map((name) => ({ name, uuid: mdUuid(name, host) }));
  const crypt = nodes.filter((n) => n.kind === "crypt").map((n) => ({ name: n.dmName ?? n.name, luksUuid: n.luksUuid ?? null }));
  const files: Record<string, string | Uint8Array> = {};
  const need = (prog: string, pkg: string) => {
    const p = host.program(prog);
    if (!p) throw new UsageError(`the capture needs ${prog} to bring up ${prog === "lvm" ? "the logical volumes" : "the md arrays"} under the dump target or root, and this machine has none`, { hint: `install ${pkg}` });
    const all = host.programFiles(p);
    for (const [image, src] of all) files[image] ??= src;
    return `LD_LIBRARY_PATH=@LIBS@ /${all[0]![0]}`;
  };
  const lines: string[] = [];
  if (arrays.length) {
    const mdadm = need("mdadm", "mdadm");
    const names = arrays.map((a) => a.name).join(" ");
    files["etc/mdadm/mdadm.conf"] = new TextEncoder().encode(`DEVICE partitions\n${arrays.map((a) => `ARRAY /dev/${a.name} UUID=${a.uuid}`).join("\n")}\n`);
    lines.push(`    for a in ${names}; do [ -b /dev/$a ] && [ "$(cat /sys/block/$a/md/array_state 2>/dev/null)" != inactive ] || ok=; done`);
    lines.push(`    [ -n "$ok" ] || { ${mdadm} --assemble --scan --run >>/tmp/storage.log 2>&1; ok=1; for a in ${names}; do [ -b /dev/$a ] || ok=; done; }`);
  }
  if (lvs.length) {
    const lvm = need("lvm", "lvm2");
    files["etc/lvm/lvm.conf"] = new TextEncoder().encode(CAPTURE_LVM_CONF);
    lines.push(`    [ -n "$ok" ] && for lv in ${lvs.join(" ")}; do [ -b "/dev/$lv" ] || ${lvm} lvchange -ay --sysinit "$lv" >>/tmp/storage.log 2>&1 || ok=; done`);
  }
  const libDirs = unique(Object.keys(files).filter((p) => /\.so[.\d]*$/.test(p)).map((p) => "/" + p.slice(0, p.lastIndexOf("/"))));
  const what = [...arrays.map((a) => a.name), ...lvs].join(" ");
  const script = `# storage (lib/initramfs/storage.ts): ${what || "nothing to assemble"}; dump target ${target ? `${target.spec} at ${target.dir}` : "on the root"}
uptime_s() { cut -d. -f1 /proc/uptime; }
storage_up() {
  STORAGE_END=$(( $(uptime_s) + ${timeoutSeconds} ))
${lines.length ? `  mkdir -p /run/lock/lvm
  while :; do
    ok=1
${lines.map((l) => `  ${l}`).join("\n")}
    [ -n "$ok" ] && { log "storage up: ${what}"; return 0; }
    [ $(uptime_s) -ge $STORAGE_END ] && break
    sleep 1
  done
  log "storage step failed: ${what} not up within ${timeoutSeconds} s: $(tail -n 3 /tmp/storage.log 2>/dev/null | tr '\\n' ' ')"
  return 1` : "  :"}
}
target_up() {
${target ? `  spec=${sh(target.spec)}; dev=
  while :; do
    case "$spec" in /dev/*) [ -b "$spec" ] && dev="$spec" ;; *) dev=$(findfs "$spec" 2>/dev/null) ;; esac
    [ -n "$dev" ] && break
    [ $(uptime_s) -ge $STORAGE_END ] && { log "dump target step failed: $spec did not appear within ${timeoutSeconds} s of the storage step"; return 1; }
    sleep 1
  done
  mkdir -p /sysroot${sh(target.dir)} 2>/dev/null
  mount -t ${sh(target.fstype)} -o rw "$dev" /sysroot${sh(target.dir)} || { log "dump target step failed: cannot mount $dev (${target.fstype}) at ${target.dir}"; return 1; }
  log "dump target $spec ($dev, ${target.fstype}) mounted at ${target.dir}"` : "  :"}
}
target_down() {
${target ? `  umount /sysroot${sh(target.dir)} 2>/dev/null` : "  :"}
}
`;
  return { modules: [...modules], lvs, arrays, crypt, files, script: script.replaceAll("@LIBS@", libDirs.join(":")) };
}

const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** An md array's UUID from the host's mdadm (`MD_UUID=` of --detail --export). */
function mdUuid(name: string, host: StorageHost): string {
  const text = host.mdDetail(name);
  const m = text ? /^MD_UUID=(\S+)/m.exec(text) : null;
  if (!m) throw new UsageError(`cannot read the UUID of /dev/${name}`, { hint: "install mdadm (mdadm --detail --export must work)" });
  return m[1]!;
}

function unique<T>(a: T[]): T[] {
  return [...new Set(a)];
}

/** The nodes of a stack as one line each, indented by depth (for `load --dry-run`). */
export function formatStack(n: BlockNode, depth = 0): string[] {
  const what = n.kind === "lvm" ? `lvm ${n.lvm?.vg}/${n.lvm?.lv}` : n.kind === "crypt" ? `luks ${n.luksUuid ?? n.dmUuid}` : n.kind === "md" ? `md ${n.mdLevel}` : n.kind === "disk" ? `disk ${n.transport}` : n.kind;
  return [`${"  ".repeat(depth)}${n.name} (${n.majmin}) ${what}`, ...n.slaves.flatMap((s) => formatStack(s, depth + 1))];
}

/** The storage of a capture: the plan, and where the dump goes as the collector in the chroot sees it. */
export interface CaptureStorage {
  plan: StoragePlan;
  /** The dump directory the collector writes to (in the chroot). */
  target: string;
  /** The dump target's own filesystem, or null when the dump goes to the root filesystem. */
  targetMount: TargetMount | null;
  /** The stacks found, the root's first (for `load --dry-run`). */
  stacks: MountStack[];
  /** What may stop the capture (a target device no disk has now). */
  warnings: string[];
}

/**
 * Finds the storage a capture needs on this system: the root's stack, and the dump target's when it is a directory
 * on another filesystem (a separate disk, an LV), a device target (UUID=/LABEL=) or a raw partition. A device that is mounted here
 * is mounted at the same place in the capture; one that is not, under /tmp/kdump-target (the capture's tmpfs).
 * @example captureStorage({ kind: "dir", path: "/var/crash" }, readFileSync("/proc/self/mountinfo", "utf8"), idx, 90).targetMount
 */
export function captureStorage(t: Target, mountinfo: string, idx: ModuleIndex, timeoutSeconds: number, host: StorageHost = realStorageHost, sys = "/sys"): CaptureStorage {
  const root = mountStack("/", mountinfo, sys);
  const stacks = root ? [root] : [];
  let target = t.kind === "dir" ? t.path : "/var/crash";
  let targetMount: TargetMount | null = null;
  const warnings: string[] = [];
  const mounted = (m: MountStack) => {
    const id = host.probe(m.mount.source);
    return { spec: id?.uuid ? `UUID=${id.uuid}` : m.mount.source, fstype: m.mount.fstype, dir: m.mount.mountpoint };
  };
  if (t.kind === "dir") {
    const m = mountStack(t.path, mountinfo, sys);
    if (m && (!root || m.mount.mountpoint !== root.mount.mountpoint)) {
      stacks.push(m);
      targetMount = mounted(m);
    }
  } else if (t.kind === "raw") {
    // the flattened stream goes onto the partition itself (the collector opens it through the chroot's /dev)
    stacks.push(...stacksOfDevice(t.device, sys));
    target = t.device;
  } else if (t.kind === "device") {
    const found = host.findDevice(t.spec);
    const point = found ? mountPointOf(mountinfo, found.device) : null;
    const m = point ? mountStack(point, mountinfo, sys) : null;
    if (m) {
      stacks.push(m);
      targetMount = { ...mounted(m), spec: t.spec };
    } else {
      if (found) stacks.push(...stacksOfDevice(found.device, sys));
      else warnings.push(`no disk here has ${t.spec}: unless it appears in the capture, the capture runs the failure action after ${timeoutSeconds} s (KDUMP_DEVICE_TIMEOUT)`);
      targetMount = { spec: t.spec, fstype: t.fstype ?? found?.fstype ?? "auto", dir: "/tmp/kdump-target" };
    }
    target = join(targetMount.dir, t.sub);
  }
  return { plan: planStorage(stacks, idx, timeoutSeconds, targetMount, host), target, targetMount, stacks, warnings };
}

/** The stack of an unmounted device, as a MountStack with no mount point. */
function stacksOfDevice(device: string, sys: string): MountStack[] {
  try {
    const majmin = readFileSync(join(sys, "class/block", basename(realpathSync(device)), "dev"), "utf8").trim();
    return [{ mount: { majmin, mountpoint: "", fstype: "", source: device, options: "" }, stack: blockStack(majmin, sys) }];
  } catch {
    return [];
  }
}
