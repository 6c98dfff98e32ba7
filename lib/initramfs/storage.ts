// What the capture initramfs needs to bring up the crashed system's storage, found from the running system (like
// dracut's host-only mode): the drivers of the disks under the root and the dump target (from their modaliases and
// the capture kernel's aliases), the md and dm layers' modules, the filesystems' modules, the host's real `lvm`
// (lvm2) and `mdadm` with their libraries and a minimal config, and the /init step that assembles the md arrays and
// activates only the logical volumes needed, bounded in time.
import { UsageError } from "../errors.ts";
import { stackNodes, layerModules, type BlockNode, type MountStack } from "../collect/devices.ts";
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
  /** Files for the image: path in the image → host file path or contents. */
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
}

/** This machine. */
export const realStorageHost: StorageHost = { program: (n) => findProgram(n), programFiles, mdDetail: realMdDetail };

/**
 * Plans the bring-up of the filesystems in `mounts` (the root, the dump target) for a capture kernel whose modules
 * are `idx`. `timeoutSeconds` bounds the whole step in the capture.
 * @example planStorage([mountStack("/")!], moduleIndex("/lib/modules/6.12.117+deb12-cloud-amd64"), 90).lvs // ["vg0/root"]
 */
export function planStorage(mounts: MountStack[], idx: ModuleIndex, timeoutSeconds: number, host: StorageHost = realStorageHost): StoragePlan {
  const nodes = mounts.flatMap((m) => stackNodes(m.stack));
  const modules = new Set<string>();
  const aliases = nodes.some((n) => n.modaliases.length) ? aliasTable(idx) : [];
  const known = (m: string) => idx.files.has(m) || idx.builtin.has(m);
  for (const n of nodes) {
    for (const a of n.modaliases) for (const m of modulesForAlias(a, aliases)) modules.add(m);
    for (const d of n.drivers) if (known(d)) modules.add(d); // what the running kernel bound, in case an alias is missing
    for (const m of layerModules(n)) if (known(m)) modules.add(m);
  }
  for (const m of mounts) if (known(m.mount.fstype)) modules.add(m.mount.fstype);
  const lvs = unique(nodes.filter((n) => n.kind === "lvm" && n.lvm).map((n) => `${n.lvm!.vg}/${n.lvm!.lv}`));
  const arrays = unique(nodes.filter((n) => n.kind === "md").map((n) => n.name)).map((name) => ({ name, uuid: mdUuid(name, host) }));
  const crypt = nodes.filter((n) => n.kind === "crypt").map((n) => ({ name: n.dmName ?? n.name, luksUuid: n.luksUuid ?? null }));
  const files: Record<string, string | Uint8Array> = {};
  const need = (prog: string, pkg: string) => {
    const p = host.program(prog);
    if (!p) throw new UsageError(`the capture needs ${prog} to bring up ${prog === "lvm" ? "the logical volumes" : "the md arrays"} under the dump target or root, and this machine has none`, { hint: `install ${pkg}` });
    for (const [image, src] of host.programFiles(p)) files[image] ??= src;
    return "/" + host.programFiles(p)[0]![0];
  };
  const lines: string[] = [];
  let libDirs: string[] = [];
  if (arrays.length) {
    const mdadm = need("mdadm", "mdadm");
    files["etc/mdadm/mdadm.conf"] = `DEVICE partitions\n${arrays.map((a) => `ARRAY /dev/${a.name} UUID=${a.uuid}`).join("\n")}\n`;
    lines.push(`    for a in ${arrays.map((a) => a.name).join(" ")}; do [ -b /dev/$a ] && [ "$(cat /sys/block/$a/md/array_state 2>/dev/null)" != inactive ] || ok=; done`);
    lines.push(`    [ -n "$ok" ] || { ${mdadm} --assemble --scan --run >>/tmp/storage.log 2>&1; ok=1; for a in ${arrays.map((a) => a.name).join(" ")}; do [ -b /dev/$a ] || ok=; done; }`);
  }
  if (lvs.length) {
    const lvm = need("lvm", "lvm2");
    files["etc/lvm/lvm.conf"] = CAPTURE_LVM_CONF;
    lines.push(`    for lv in ${lvs.join(" ")}; do [ -b "/dev/$lv" ] || ${lvm} lvchange -ay --sysinit "$lv" >>/tmp/storage.log 2>&1 || ok=; done`);
  }
  libDirs = unique(Object.keys(files).filter((p) => /\.so[.\d]*$/.test(p)).map((p) => "/" + p.slice(0, p.lastIndexOf("/"))));
  const script = lines.length
    ? `# storage: ${[...arrays.map((a) => `md ${a.name}`), ...lvs.map((l) => `lv ${l}`)].join(", ")} (lib/initramfs/storage.ts)
storage_up() {
  export LD_LIBRARY_PATH=${libDirs.join(":")}
  mkdir -p /run/lock/lvm /etc/lvm
  end=$(( $(cut -d. -f1 /proc/uptime) + ${timeoutSeconds} ))
  while :; do
    ok=1
${lines.join("\n")}
    [ -n "$ok" ] && { log "storage up: ${[...arrays.map((a) => a.name), ...lvs].join(" ")}"; unset LD_LIBRARY_PATH; return 0; }
    [ $(cut -d. -f1 /proc/uptime) -ge $end ] && break
    sleep 1
  done
  unset LD_LIBRARY_PATH
  log "storage step failed after ${timeoutSeconds} s: $(tail -n 3 /tmp/storage.log 2>/dev/null | tr '\\n' ' ')"
  return 1
}
`
    : "";
  return { modules: [...modules], lvs, arrays, crypt, files, script };
}

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
