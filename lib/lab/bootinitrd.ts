// The lab's boot initramfs: busybox, the virtio modules a Debian cloud kernel needs to see its root disk
// (6.1 builds virtio as modules, 6.12 builds all but virtio_blk in), and the job script to run.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { $ } from "bun";
import { Cpio } from "../initramfs/cpio.ts";
import { LabError } from "../errors.ts";
import type { LabKernel } from "./kernels.ts";
import { arm64Peers } from "./peers.ts";

/** The busybox binary on this machine (Debian's busybox-static). */
export function busyboxPath(): string {
  for (const p of ["/bin/busybox", "/usr/bin/busybox"]) if (existsSync(p)) return p;
  throw new LabError("busybox not found", { hint: "install it: apt-get install busybox-static" });
}

/** The static busybox for guests of `kernel`'s architecture: the host's on x86_64, sid's busybox-static:arm64 on arm64. */
export async function guestBusybox(kernel: LabKernel): Promise<string> {
  return kernel.arch === "arm64" ? (await arm64Peers()).busybox : busyboxPath();
}

/** Modules for a virtio root disk, in load order; those a kernel builds in are simply absent. */
const VIRTIO_MODULES = [
  "drivers/virtio/virtio_ring.ko",
  "drivers/virtio/virtio.ko",
  "drivers/virtio/virtio_pci_legacy_dev.ko",
  "drivers/virtio/virtio_pci_modern_dev.ko",
  "drivers/virtio/virtio_pci.ko",
  "drivers/block/virtio_blk.ko",
];

/** A module file as plain ELF: .ko as is, .ko.xz / .ko.zst decompressed (busybox insmod loads plain files). */
async function moduleBytes(path: string): Promise<Uint8Array> {
  if (path.endsWith(".ko")) return new Uint8Array(await Bun.file(path).arrayBuffer());
  const tool = path.endsWith(".xz") ? "xz" : "zstd";
  const r = await $`${tool} -dc ${path}`.quiet().nothrow();
  if (r.exitCode !== 0) throw new LabError(`cannot decompress ${path}`, { hint: `install ${tool}` });
  return new Uint8Array(r.stdout);
}

/** The modules of `kernel` that the boot initramfs loads, as [name, bytes], in order. */
export async function virtioModules(kernel: LabKernel): Promise<[string, Uint8Array][]> {
  const out: [string, Uint8Array][] = [];
  for (const rel of VIRTIO_MODULES) {
    const base = join(kernel.modulesDir, "kernel", rel);
    const found = [base, `${base}.xz`, `${base}.zst`].find(existsSync);
    if (found) out.push([rel.split("/").pop()!, await moduleBytes(found)]);
  }
  return out;
}

/** A busybox initramfs with the virtio modules and `init` as its /init. */
async function busyboxInitramfs(kernel: LabKernel, init: string): Promise<{ cpio: Cpio; modules: string[] }> {
  const c = new Cpio();
  c.file("bin/busybox", new Uint8Array(await Bun.file(await guestBusybox(kernel)).arrayBuffer()), 0o755);
  for (const a of ["sh", "mount", "umount", "insmod", "sleep", "mkdir", "cp", "switch_root", "poweroff", "reboot", "cat", "echo", "dd", "stat", "sync"])
    c.symlink(`bin/${a}`, "busybox");
  for (const d of ["proc", "sys", "dev", "newroot"]) c.dir(d);
  const mods = await virtioModules(kernel);
  for (const [name, bytes] of mods) c.file(`modules/${name}`, bytes);
  const names = mods.map(([n]) => n);
  c.file("init", init.replace("@MODULES@", names.join(" ")), 0o755);
  return { cpio: c, modules: names };
}

const LOAD_MODULES = `mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
for m in @MODULES@; do insmod /modules/$m || echo "LAB-ERROR insmod $m failed"; done`;

/**
 * A capture initramfs for lab fixtures that does not use the code under test: busybox dd copies /proc/vmcore
 * whole to /dev/vdb, prints its size as `LAB-VMCORE-SIZE n`, and powers off.
 */
export async function ddCaptureInitramfs(kernel: LabKernel): Promise<Uint8Array> {
  const init = `#!/bin/sh
${LOAD_MODULES}
i=0; while [ ! -b /dev/vdb ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
echo "LAB-VMCORE-SIZE $(stat -c %s /proc/vmcore)"
dd if=/proc/vmcore of=/dev/vdb bs=1M conv=fsync && echo LAB-CAPTURED
sync; poweroff -f
`;
  return (await busyboxInitramfs(kernel, init)).cpio.bytes();
}

/**
 * The boot initramfs: loads the virtio modules, mounts /dev/vda, puts the job at /run/lab/job.sh and
 * switches to the root filesystem's /lab/init.
 */
export async function bootInitramfs(kernel: LabKernel, job: string): Promise<Uint8Array> {
  const init = `#!/bin/sh
${LOAD_MODULES}
i=0; while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
if ! mount -t ext4 -o rw /dev/vda /newroot; then echo "LAB-ERROR cannot mount the root disk /dev/vda"; poweroff -f; fi
mount -t tmpfs tmpfs /newroot/run && mkdir -p /newroot/run/lab && cp /job.sh /newroot/run/lab/job.sh
umount /proc /sys; umount /dev
exec switch_root /newroot /lab/init
`;
  const { cpio } = await busyboxInitramfs(kernel, init);
  cpio.file("job.sh", job, 0o755);
  return cpio.bytes();
}

/**
 * The boot initramfs of a systemd guest (lib/lab/debian_guest.ts): loads the virtio modules, mounts /dev/vda,
 * writes the job to /lab/job.sh on it (resetting /lab/boot-count when `run` is a new run), and hands over to
 * /sbin/init (systemd), whose lab-job.service runs the job after boot.
 */
export async function systemdBootInitramfs(kernel: LabKernel, job: string, run: string): Promise<Uint8Array> {
  const init = `#!/bin/sh
${LOAD_MODULES}
i=0; while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
if ! mount -t ext4 -o rw /dev/vda /newroot; then echo "LAB-ERROR cannot mount the root disk /dev/vda"; poweroff -f; fi
mkdir -p /newroot/lab && cp /job.sh /newroot/lab/job.sh
if [ "$(cat /newroot/lab/run-id 2>/dev/null)" != "${run}" ]; then echo "${run}" > /newroot/lab/run-id; echo 0 > /newroot/lab/boot-count; fi
sync; umount /proc /sys; umount /dev
exec switch_root /newroot /sbin/init
`;
  const { cpio } = await busyboxInitramfs(kernel, init);
  cpio.file("job.sh", job, 0o755);
  return cpio.bytes();
}
