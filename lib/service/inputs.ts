// The fingerprint of what a capture image is built from: the config files, the kernel image, its modules, the dump
// target, the hook folders, the root filesystem's device and type (its modules), busybox, the capture init's source
// and the collector (Bun, kdump.ts). `start` records it and loads an image recorded with the same fingerprint as it
// is (no module walk, no rebuild: the boot path); `status` recomputes it to say whether the loaded image is stale.
// Cheap: sizes and modification times, file contents only for the config.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { mountOf, parseMountinfo } from "../initramfs/modules.ts";
import type { ServiceHost } from "./host.ts";

/** Hook folders whose programs the capture runs. */
const HOOK_DIRS = ["/etc/kdump/pre.d", "/etc/kdump/post.d"];
/** Where the capture initramfs's busybox may come from. */
const BUSYBOX = ["/bin/busybox", "/usr/bin/busybox", "/usr/sbin/busybox"];

/**
 * The fingerprint (hex) of the memory and CPU map a loaded image's ELF core header describes: the System RAM ranges
 * of /proc/iomem and the possible CPUs (a note each, online or not). A hotplug that changes it needs a new load, one
 * that does not (a CPU going offline and online) needs none.
 * @example memoryLayout(h)  // "5f1c…"
 */
export function memoryLayout(h: ServiceHost): string {
  const ram = (h.sys.read("/proc/iomem") ?? "").split("\n").filter((l) => /^\S.*: System RAM$/.test(l));
  const cpus = h.sys.read("/sys/devices/system/cpu/possible")?.trim() ?? "";
  return new Bun.CryptoHasher("sha256").update(`${ram.join("\n")}\0${cpus}`).digest("hex").slice(0, 16);
}

/**
 * The fingerprint (hex) of the capture image inputs for kernel `release` with config `files` and dump `target`.
 * @example captureInputs(h, "6.1.0-57-cloud-amd64", ["/etc/kdump.conf"], "/var/crash", collectorPaths())
 */
export function captureInputs(h: ServiceHost, release: string, files: string[], target: string, collector: { bun: string; kdump: string }): string {
  const at = (p: string) => join(h.root || "/", p);
  const hash = new Bun.CryptoHasher("sha256");
  const stamp = (p: string) => {
    const st = statSync(at(p), { throwIfNoEntry: false });
    hash.update(`${p}\0${st ? `${st.size}:${Math.floor(st.mtimeMs)}` : "-"}\0`);
  };
  hash.update(`${release}\0${target}\0`);
  for (const f of files) {
    if (statSync(at(f), { throwIfNoEntry: false })?.isFile()) hash.update(`${f}\0`).update(readFileSync(at(f)));
    else stamp(f); // a hook folder: its programs are stamped below
  }
  stamp(`/boot/vmlinuz-${release}`);
  stamp(`/lib/modules/${release}/modules.dep`);
  stamp(`/lib/modules/${release}`);
  for (const d of HOOK_DIRS) {
    stamp(d);
    if (existsSync(at(d))) for (const n of readdirSync(at(d)).sort()) stamp(`${d}/${n}`);
  }
  const root = mountOf(parseMountinfo(h.sys.read("/proc/self/mountinfo") ?? ""), "/");
  hash.update(`root\0${root ? `${root.majmin} ${root.fstype}` : "-"}\0`);
  for (const b of BUSYBOX) stamp(b);
  stamp(collector.bun);
  stamp(collector.kdump);
  stamp(join(dirname(collector.kdump), "lib/initramfs/init.ts"));
  return hash.digest("hex").slice(0, 16);
}
