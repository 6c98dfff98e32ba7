// Where an installed kernel's files are: Debian up to 6.x and most distros put the image at /boot/vmlinuz-R and the
// config at /boot/config-R; kernel-install's layout (Fedora, Debian from 7.x) puts them at /usr/lib/modules/R/vmlinuz
// and /usr/lib/modules/R/config, with /lib/modules a link to /usr/lib/modules on merged-/usr systems.
import { existsSync } from "node:fs";

/** An installed kernel's files, as absolute paths on the box (without the `root` prefix). */
export interface KernelFiles {
  /** The bootable image, or null when neither layout has one. */
  vmlinuz: string | null;
  /** Its .config, or null. */
  config: string | null;
  /** Its modules folder (the one that exists; /lib/modules/R when neither does). */
  modulesDir: string;
}

/** Candidate paths of each file of `release`, in the order they are tried. */
export function kernelFileCandidates(release: string): { vmlinuz: string[]; config: string[]; modulesDir: string[] } {
  return {
    vmlinuz: [`/boot/vmlinuz-${release}`, `/usr/lib/modules/${release}/vmlinuz`, `/lib/modules/${release}/vmlinuz`],
    config: [`/boot/config-${release}`, `/usr/lib/modules/${release}/config`, `/lib/modules/${release}/config`],
    modulesDir: [`/lib/modules/${release}`, `/usr/lib/modules/${release}`],
  };
}

/**
 * Finds the installed kernel `release` in either layout; `root` prefixes every path (tests, chroots).
 * @example installedKernel("7.2.13+deb14-cloud-amd64").vmlinuz // "/usr/lib/modules/7.2.13+deb14-cloud-amd64/vmlinuz"
 */
export function installedKernel(release: string, root = "", exists: (p: string) => boolean = existsSync): KernelFiles {
  const c = kernelFileCandidates(release);
  const first = (l: string[]) => l.find((p) => exists(root + p)) ?? null;
  return { vmlinuz: first(c.vmlinuz), config: first(c.config), modulesDir: first(c.modulesDir) ?? c.modulesDir[0]! };
}
