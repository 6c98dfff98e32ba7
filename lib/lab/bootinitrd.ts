// The lab's boot initramfs: busybox, the virtio modules a Debian cloud kernel needs to see its root disk
// (6.1 builds virtio as modules, 6.12 builds all but virtio_blk in), and the job script to run.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { $ } from "bun";
import { Cpio } from "../capture/cpio.ts";
import { LabError } from "../errors.ts";
import type { LabKernel } from "./kernels.ts";
import { busyboxPath } from "./rootfs.ts";

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

/**
 * The boot initramfs: loads the virtio modules, mounts /dev/vda, puts the job at /run/lab/job.sh and
 * switches to the root filesystem's /lab/init.
 */
export async function bootInitramfs(kernel: LabKernel, job: string): Promise<Uint8Array> {
  const c = new Cpio();
  c.file("bin/busybox", new Uint8Array(await Bun.file(busyboxPath()).arrayBuffer()), 0o755);
  for (const a of ["sh", "mount", "umount", "insmod", "sleep", "mkdir", "cp", "switch_root", "poweroff", "cat", "echo"])
    c.symlink(`bin/${a}`, "busybox");
  for (const d of ["proc", "sys", "dev", "newroot"]) c.dir(d);
  const mods = await virtioModules(kernel);
  for (const [name, bytes] of mods) c.file(`modules/${name}`, bytes);
  c.file("job.sh", job, 0o755);
  c.file(
    "init",
    `#!/bin/sh
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
for m in ${mods.map(([n]) => n).join(" ")}; do insmod /modules/$m || echo "LAB-ERROR insmod $m failed"; done
i=0; while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
if ! mount -t ext4 -o rw /dev/vda /newroot; then echo "LAB-ERROR cannot mount the root disk /dev/vda"; poweroff -f; fi
mount -t tmpfs tmpfs /newroot/run && mkdir -p /newroot/run/lab && cp /job.sh /newroot/run/lab/job.sh
umount /proc /sys; umount /dev
exec switch_root /newroot /lab/init
`,
    0o755,
  );
  return c.bytes();
}
