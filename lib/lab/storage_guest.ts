// Lab guests whose storage is built the way installers build a server's: a first run of the busybox guest makes
// the layout with the real tools (pvcreate/vgcreate/lvcreate, mdadm --create, cryptsetup luksFormat,
// mkfs.ext4/xfs/btrfs; the host's own binaries, copied in with their libraries) and copies its root into it; later
// runs boot from that layout through a boot initramfs that assembles it (mdadm, lvm, cryptsetup open) as a distro's
// initramfs would.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { $ } from "bun";
import { LabError } from "../errors.ts";
import { Cpio } from "../initramfs/cpio.ts";
import { findProgram, programFiles } from "../initramfs/binaries.ts";
import { moduleBytes } from "../initramfs/modinfo.ts";
import { moduleIndex, resolveModules } from "../initramfs/modules.ts";
import { busyboxPath, virtioModules } from "./bootinitrd.ts";
import type { LabKernel } from "./kernels.ts";
import { labDir } from "./labdir.ts";
import { buildOnce } from "./lock.ts";
import { runGuest } from "./qemu.ts";
import { buildRootfs } from "./rootfs.ts";

/** The host programs a layout needs, by the tool that makes it. */
export const STORAGE_TOOLS = ["lvm", "mdadm", "cryptsetup", "mkfs.ext4", "mkfs.xfs", "mkfs.btrfs"];

/**
 * The lab's LUKS passphrase, as a key file. Lab-only: it sits in the layout guest's root and in the boot initramfs
 * that unlocks the root at every boot (a real server asks for it or gets it from a TPM); never in a capture image.
 */
export const LAB_LUKS_KEY = new TextEncoder().encode("kdump-lab-luks-key-not-a-secret\n");
/** Where the layout guest and the boot initramfs keep LAB_LUKS_KEY. */
export const LAB_LUKS_KEY_PATH = "/lab/luks.key";
/** cryptsetup's options in a guest with no udev and no /run/cryptsetup; pbkdf2 with few iterations keeps TCG fast. */
const CRYPTSETUP = "cryptsetup --disable-locks";

/** lvm.conf of a guest that runs no udev (libdevmapper makes the /dev nodes itself). */
const GUEST_LVM_CONF = `devices { obtain_device_list_from_udev = 0 }
activation { udev_sync = 0 udev_rules = 0 verify_udev_operations = 1 monitoring = 0 }
global { use_lvmpolld = 0 event_activation = 0 }
`;

/**
 * Root filesystem files (guest path → host path or contents) that give a busybox guest the host's storage tools:
 * each program with its libraries, lvm.conf and mke2fs.conf (run lvm's commands as `lvm pvcreate …`).
 * @example buildRootfs(kernel, { files: storageToolFiles() })
 */
export function storageToolFiles(tools = STORAGE_TOOLS): Record<string, string | Uint8Array> {
  const files: Record<string, string | Uint8Array> = {};
  for (const t of tools) {
    const p = findProgram(t);
    if (!p) throw new LabError(`${t} is not installed on this machine`, { hint: "run `kdump lab setup` (it installs lvm2, mdadm, cryptsetup-bin, xfsprogs, btrfs-progs)" });
    for (const [image, src] of programFiles(p)) files[`/${image}`] ??= src;
  }
  if (tools.includes("lvm")) files["/etc/lvm/lvm.conf"] = new TextEncoder().encode(GUEST_LVM_CONF);
  if (tools.includes("mkfs.ext4")) files["/etc/mke2fs.conf"] = "/etc/mke2fs.conf";
  if (tools.includes("cryptsetup")) files[LAB_LUKS_KEY_PATH] = LAB_LUKS_KEY;
  return files;
}

/**
 * Modules a busybox guest loads itself before it builds a layout (dm_mod for lvm, raid1 for mdadm, xfs, btrfs),
 * decompressed, with their dependencies: root filesystem files under /lab/modules/ and the job line that loads
 * them in order (the lab kernels ship no modules.dep for modprobe). `dir` keeps two sets apart (load one later).
 * @example const m = setupModules(kernel, ["dm_mod"]); runGuest({ …, rootfs: { files: m.files }, job: `${m.load}\n…` })
 */
export function setupModules(kernel: LabKernel, names: string[], dir = "/lab/modules"): { files: Record<string, Uint8Array>; load: string } {
  const idx = moduleIndex(kernel.modulesDir);
  const files: Record<string, Uint8Array> = {};
  const order: string[] = [];
  for (const [i, m] of resolveModules(names.filter((n) => idx.files.has(n)), idx).entries()) {
    const f = `${dir}/${String(i).padStart(2, "0")}-${m.name}.ko`;
    files[f] = moduleBytes(m.path);
    order.push(f);
  }
  return { files, load: order.length ? `for m in ${order.join(" ")}; do insmod $m || echo "LAB-NOTE insmod $m failed"; done` : ":" };
}

/** The layers a storage boot initramfs assembles before it mounts the root. */
export interface StorageBoot {
  /** The root device once assembled (/dev/mapper/vg0-root, /dev/md0, /dev/nvme0n1). */
  root: string;
  /** Volume groups to activate with lvm. */
  vgs?: string[];
  /** Assemble md arrays (mdadm --assemble --scan). */
  md?: boolean;
  /** More modules to load (nvme, raid1 …), with their dependencies. */
  modules?: string[];
  /** A LUKS device to open with LAB_LUKS_KEY (packed into this initramfs: lab-only) as /dev/mapper/<name>. */
  luks?: { device: string; name: string };
}

/** Modules dm-crypt needs for LUKS2's default aes-xts-plain64 when nothing can autoload them (no modprobe). */
export const LUKS_MODULES = ["dm_mod", "dm_crypt", "xts", "ecb", "algif_skcipher"];

/**
 * A boot initramfs like a distro's for a root on LVM, md or NVMe: busybox, the virtio modules, dm-mod/md modules,
 * the host's lvm and mdadm; it assembles the layers, mounts the root, puts the job at /run/lab/job.sh and switches
 * to /lab/init.
 * @example runGuest({ kernel, job, rootImage: disk, initrd: await storageBootInitramfs(kernel, job, { root: "/dev/mapper/vg0-root", vgs: ["vg0"] }) })
 */
export async function storageBootInitramfs(kernel: LabKernel, job: string, b: StorageBoot): Promise<Uint8Array> {
  const c = new Cpio();
  c.file("bin/busybox", readFileSync(busyboxPath()), 0o755);
  for (const a of ["sh", "mount", "umount", "insmod", "sleep", "mkdir", "cp", "switch_root", "poweroff", "cat", "echo"]) c.symlink(`bin/${a}`, "busybox");
  for (const d of ["proc", "sys", "dev", "newroot", "run/lock/lvm", "lab"]) c.dir(d);
  const names: string[] = [];
  for (const [name, bytes] of await virtioModules(kernel)) {
    c.file(`modules/${name}`, bytes);
    names.push(name);
  }
  const idx = moduleIndex(kernel.modulesDir);
  const extra = [...(b.vgs?.length ? ["dm_mod"] : []), ...(b.md ? ["md_mod", "raid1"] : []), ...(b.luks ? LUKS_MODULES : []), ...(b.modules ?? [])];
  for (const m of resolveModules(extra.filter((n) => idx.files.has(n)), idx)) {
    if (names.includes(`${m.name}.ko`)) continue;
    c.file(`modules/${m.name}.ko`, moduleBytes(m.path));
    names.push(`${m.name}.ko`);
  }
  const tools = [...(b.vgs?.length ? ["lvm"] : []), ...(b.md ? ["mdadm"] : []), ...(b.luks ? ["cryptsetup"] : [])];
  const libs = new Set<string>();
  for (const t of tools) {
    for (const [image, src] of programFiles(findProgram(t)!)) {
      if (!c.has(image)) c.file(image, readFileSync(src), 0o755);
      if (image.includes(".so")) libs.add("/" + image.slice(0, image.lastIndexOf("/")));
    }
  }
  if (b.vgs?.length) c.file("etc/lvm/lvm.conf", GUEST_LVM_CONF);
  if (b.luks) c.file(LAB_LUKS_KEY_PATH.slice(1), LAB_LUKS_KEY, 0o600);
  const env = `LD_LIBRARY_PATH=${[...libs].join(":")}`;
  const lvm = tools.includes("lvm") ? `/${programFiles(findProgram("lvm")!)[0]![0]}` : "";
  const mdadm = tools.includes("mdadm") ? `/${programFiles(findProgram("mdadm")!)[0]![0]}` : "";
  const cryptsetup = b.luks ? `${env} /${programFiles(findProgram("cryptsetup")!)[0]![0]} --disable-locks open --key-file ${LAB_LUKS_KEY_PATH} ${b.luks.device} ${b.luks.name}` : "";
  const init = `#!/bin/sh
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
for m in ${names.join(" ")}; do insmod /modules/$m 2>/dev/null || echo "LAB-NOTE insmod $m failed"; done
i=0
while [ ! -b ${b.root} ] && [ $i -lt 60 ]; do
  ${b.md ? `${env} ${mdadm} --assemble --scan --run >/dev/null 2>&1` : ":"}
  ${b.vgs?.length ? `${env} ${lvm} vgchange -ay --sysinit ${b.vgs.join(" ")} >/dev/null 2>&1` : ":"}
  ${b.luks ? `[ -b /dev/mapper/${b.luks.name} ] || ${cryptsetup} || echo "LAB-NOTE cryptsetup open ${b.luks.device} failed"` : ":"}
  [ -b ${b.root} ] || sleep 1; i=$((i+1))
done
if ! mount -o rw ${b.root} /newroot; then echo "LAB-ERROR cannot mount the root ${b.root}"; poweroff -f; fi
mount -t tmpfs tmpfs /newroot/run && mkdir -p /newroot/run/lab && cp /job.sh /newroot/run/lab/job.sh
umount /proc /sys; umount /dev
exec switch_root /newroot /lab/init
`;
  c.file("init", init, 0o755);
  c.file("job.sh", job, 0o755);
  return c.bytes();
}

/**
 * The guest job that copies the running root into the filesystem mounted at `dest` (everything but the API
 * filesystems and scratch folders), with a fresh boot count and `fstab` naming `rootSpec`.
 */
export function copyRootJob(dest: string, rootSpec: string): string {
  return `cd /
for d in *; do
  case "$d" in proc|sys|dev|tmp|run|mnt) mkdir -p "${dest}/$d" ;; *) cp -a "$d" "${dest}/" || exit 1 ;; esac
done
echo 0 > "${dest}/lab/boot-count"
echo "${rootSpec} / auto defaults 0 1" > "${dest}/etc/fstab"
cd /opt/kdump`;
}

/** A storage layout a busybox guest builds once: its disks are cached under `.lab/storage/` and copied per run. */
export interface Layout {
  /** Cache name (with the kernel release and a hash of every input, it names the cached disks). */
  name: string;
  /** Guest shell that builds the layout on /dev/vdb… and mounts the future root at /mnt/new. */
  setup: string;
  /** The layout's disks, in order (vdb, vdc… during setup; the first becomes the boot disk). */
  sizesMiB: number[];
  /** Host tools the setup runs (storageToolFiles). */
  tools: string[];
  /** Modules the setup loads first (dm_mod, raid1 …). */
  modules: string[];
  /** The root device once booted, written to the copy's fstab. */
  root: string;
}

/**
 * The disks of `layout` for one run: built once in a busybox guest (the layout, then the running root copied into
 * it), cached, and copied (sparse) into `dir` for the caller to boot and throw away.
 * @example const [disk] = await layoutDisks(kernel, lvmLayout, scratch)
 */
export async function layoutDisks(kernel: LabKernel, layout: Layout, dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const [i, d] of (await buildLayout(kernel, layout)).entries()) {
    const copy = join(dir, `${layout.name}-${process.pid}-${i}.img`);
    await $`cp --sparse=always ${d} ${copy}`.quiet();
    out.push(copy);
  }
  return out;
}

/**
 * The cached disks of `layout` (built once in a busybox guest: the layout, then the running root copied into it).
 * Treat them as read-only: layoutDisks() copies them for a run.
 * @example await buildLayout(await fetchKernel("6.12"), LVM_ROOT_LAYOUT)
 */
export async function buildLayout(kernel: LabKernel, layout: Layout): Promise<string[]> {
  const mods = setupModules(kernel, layout.modules);
  const files = { ...storageToolFiles(layout.tools), ...mods.files };
  const image = await buildRootfs(kernel, { files });
  const h = new Bun.CryptoHasher("sha256").update(`${basename(image)}\0${layout.setup}\0${layout.sizesMiB.join(",")}\0${layout.root}\0${mods.load}`);
  const cache = join(labDir(), "storage");
  mkdirSync(cache, { recursive: true, mode: 0o700 });
  const key = join(cache, `${kernel.release}-${layout.name}-${h.digest("hex").slice(0, 16)}`);
  const disks = layout.sizesMiB.map((_, i) => `${key}.disk${i}`);
  await buildOnce(key, () => (existsSync(`${key}.done`) ? key : undefined), async () => {
    const job = `set -x\n${mods.load}\n${layout.setup}\n${copyRootJob("/mnt/new", layout.root)}\numount /mnt/new && sync && echo SETUP-OK`;
    for (const d of disks) rmSync(d, { force: true });
    const r = await runGuest({ kernel, job, disks: disks.map((path, i) => ({ path, sizeMiB: layout.sizesMiB[i]! })), rootfs: { files }, timeoutSeconds: 1200 });
    r.cleanup();
    if (!r.console.includes("SETUP-OK")) {
      const tail = r.console.split("\n").filter((l) => !l.startsWith("[")).slice(-30).join("\n");
      throw new LabError(`building the ${layout.name} layout failed in the guest`, { hint: tail });
    }
    writeFileSync(`${key}.done`, "");
    // one cached build per layout and kernel: an older one (another toolkit) only takes disk
    const mine = `${kernel.release}-${layout.name}-`;
    for (const f of readdirSync(cache)) if (f.startsWith(mine) && !f.startsWith(basename(key))) rmSync(join(cache, f), { recursive: true, force: true });
    return key;
  });
  return disks;
}

/** A root on an LVM logical volume (vg0/root, ext4) on one virtio disk, as RHEL's and Ubuntu Server's installers make. */
export const LVM_ROOT_LAYOUT: Layout = {
  name: "lvm-root",
  setup: `lvm pvcreate -y /dev/vdb && lvm vgcreate vg0 /dev/vdb && lvm lvcreate -y -n root -L 1200M vg0 || exit 1
mkfs.ext4 -q /dev/vg0/root && mkdir -p /mnt/new && mount /dev/vg0/root /mnt/new || exit 1`,
  sizesMiB: [1400],
  tools: ["lvm", "mkfs.ext4"],
  modules: ["dm_mod"],
  root: "/dev/mapper/vg0-root",
};

/**
 * A root on LUKS2 (ext4 in it, opened as /dev/mapper/root) on one virtio disk, and an unencrypted XFS disk for
 * /var/crash, as an installer's "encrypt the system" choice leaves a server with a separate dump disk. The setup
 * guest formats with the real cryptsetup (pbkdf2 at 1000 iterations instead of argon2id, so TCG guests unlock in
 * well under a second) and LAB_LUKS_KEY.
 */
export const LUKS_ROOT_LAYOUT: Layout = {
  name: "luks-root",
  setup: `${CRYPTSETUP} luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file ${LAB_LUKS_KEY_PATH} /dev/vdb || exit 1
${CRYPTSETUP} open --key-file ${LAB_LUKS_KEY_PATH} /dev/vdb root || exit 1
mkfs.ext4 -q /dev/mapper/root && mkdir -p /mnt/new && mount /dev/mapper/root /mnt/new || exit 1
mkfs.xfs -q /dev/vdc || exit 1`,
  sizesMiB: [1400, 512],
  tools: ["cryptsetup", "mkfs.ext4", "mkfs.xfs"],
  modules: [...LUKS_MODULES, "xfs"],
  root: "/dev/mapper/root",
};
