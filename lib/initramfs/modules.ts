// Which kernel modules the capture kernel must load to reach the dump target: the drivers sysfs shows under the
// target's block device, its filesystem, and their dependencies (modules.dep when present, else each module's
// own depends=/softdep=pre). Builtin modules (modules.builtin) are skipped. Any kernel with sysfs and modinfo.
import { existsSync, readdirSync, readFileSync, readlinkSync, realpathSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { MissingDataError } from "../errors.ts";
import { moduleBytes, moduleDepends, modinfo, modulePreSoftdeps } from "./modinfo.ts";

/** A module to load, in load order. */
export interface ResolvedModule {
  /** Name with `-` read as `_` (virtio_blk). */
  name: string;
  /** The module file (.ko, .ko.xz, …). */
  path: string;
  /** Names it depends on (already earlier in the list). */
  depends: string[];
}

/** The module files of one kernel release. */
export interface ModuleIndex {
  /** /lib/modules/RELEASE. */
  dir: string;
  /** Module name → file path. */
  files: Map<string, string>;
  /** Names built into the kernel (modules.builtin). */
  builtin: Set<string>;
  /** Dependencies from modules.dep, or null when the file is absent. */
  dep: Map<string, string[]> | null;
}

const MODULE_FILE = /\.ko(\.xz|\.zst|\.gz)?$/;

/** A module's name from its file name: `virtio-blk.ko.xz` → `virtio_blk`. */
export function moduleName(file: string): string {
  return basename(file).replace(MODULE_FILE, "").replace(/-/g, "_");
}

/**
 * Indexes /lib/modules/RELEASE: every module file, modules.builtin, and modules.dep when present.
 * @example moduleIndex("/lib/modules/6.1.0-56-cloud-amd64").files.get("virtio_blk")
 */
export function moduleIndex(dir: string): ModuleIndex {
  if (!existsSync(dir)) throw new MissingDataError(`no modules at ${dir}`, { hint: "install the kernel's modules (linux-image package) or give --modules-dir" });
  const files = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (MODULE_FILE.test(e.name) && !files.has(moduleName(e.name))) files.set(moduleName(e.name), p);
    }
  };
  for (const sub of ["kernel", "updates", "extra"]) if (existsSync(join(dir, sub))) walk(join(dir, sub));
  const lines = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), "utf8").split("\n").filter(Boolean) : []);
  const builtin = new Set(lines("modules.builtin").map(moduleName));
  let dep: Map<string, string[]> | null = null;
  if (existsSync(join(dir, "modules.dep"))) {
    dep = new Map();
    for (const l of lines("modules.dep")) {
      const [mod, rest] = l.split(":");
      dep.set(moduleName(mod!), (rest ?? "").trim().split(/\s+/).filter(Boolean).map(moduleName));
    }
  }
  return { dir, files, builtin, dep };
}

/**
 * The modules to load for `names`, dependencies first, each once. Builtin names are dropped; a name that is neither
 * a file nor builtin is an error (say which). Pre-softdeps are added when they exist as files.
 * @example resolveModules(["virtio_blk"], idx).map((m) => m.name) // ["virtio_ring", "virtio", "virtio_blk"] on 6.1
 */
export function resolveModules(names: string[], idx: ModuleIndex): ResolvedModule[] {
  const out: ResolvedModule[] = [];
  const done = new Set<string>();
  const visiting = new Set<string>();
  const visit = (raw: string, optional: boolean) => {
    const name = raw.replace(/-/g, "_");
    if (done.has(name) || visiting.has(name) || idx.builtin.has(name)) return;
    const path = idx.files.get(name);
    if (!path) {
      if (optional) return;
      throw new MissingDataError(`module ${name} is neither built in nor in ${idx.dir}`, { hint: "install the kernel's modules or drop it from --modules" });
    }
    visiting.add(name);
    let depends: string[];
    let soft: string[] = [];
    if (idx.dep) depends = idx.dep.get(name) ?? [];
    else {
      const info = modinfo(moduleBytes(path));
      depends = moduleDepends(info);
      soft = modulePreSoftdeps(info);
    }
    for (const s of soft) visit(s, true);
    for (const d of [...depends].reverse()) visit(d, false); // modules.dep lists the deepest dependency last
    visiting.delete(name);
    done.add(name);
    out.push({ name, path, depends: depends.map((d) => d.replace(/-/g, "_")) });
  };
  for (const n of names) visit(n, false);
  return out;
}

/** The mount a path lives on, from /proc/self/mountinfo. */
export interface MountInfo {
  /** "major:minor" of the device. */
  majmin: string;
  /** Where it is mounted. */
  mountpoint: string;
  /** Filesystem type (ext4, xfs, …). */
  fstype: string;
  /** The mount source (/dev/vda1, UUID resolved by the kernel). */
  source: string;
  /** Mount options (rw,relatime,…). */
  options: string;
}

/** Parses mountinfo text (proc(5)); mount points are unescaped (\040 → space). */
export function parseMountinfo(text: string): MountInfo[] {
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
  const out: MountInfo[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(" ");
    const dash = f.indexOf("-");
    if (dash < 6) continue;
    out.push({ majmin: f[2]!, mountpoint: unescape(f[4]!), options: f[5]!, fstype: f[dash + 1]!, source: unescape(f[dash + 2] ?? "") });
  }
  return out;
}

/** The mount holding `path` (the longest mount point that is a prefix; later mounts win over earlier ones). */
export function mountOf(mounts: MountInfo[], path: string): MountInfo | undefined {
  let best: MountInfo | undefined;
  for (const m of mounts) {
    const mp = m.mountpoint === "/" ? "/" : m.mountpoint + "/";
    if ((path + "/").startsWith(mp) && (!best || m.mountpoint.length >= best.mountpoint.length)) best = m;
  }
  return best;
}

/**
 * Driver modules of a block device and everything under it, read from sysfs: each ancestor's `driver/module`,
 * and the same for its `slaves/` (device-mapper, md). `sys` is the sysfs root ("/sys"). None for a device sysfs
 * does not know (the filesystem is not on a block device).
 * @example deviceModules("254:0") // ["virtio_blk", "virtio_pci"]
 */
export function deviceModules(majmin: string, sys = "/sys"): string[] {
  const found = new Set<string>();
  const walkDevice = (dev: string) => {
    let p = realpathSync(dev);
    if (existsSync(join(p, "partition"))) p = dirname(p); // a partition: the disk holds the driver chain
    if (existsSync(join(p, "slaves"))) for (const s of readdirSync(join(p, "slaves"))) walkDevice(join(p, "slaves", s));
    if (basename(p).startsWith("dm-")) found.add("dm_mod");
    for (let d = p; d.startsWith(join(sys, "devices")) && d !== join(sys, "devices"); d = dirname(d)) {
      const drv = join(d, "driver");
      if (!existsSync(drv)) continue;
      const mod = join(drv, "module");
      found.add((existsSync(mod) ? basename(readlinkSync(mod)) : basename(readlinkSync(drv))).replace(/-/g, "_"));
    }
  };
  const dev = join(sys, "dev/block", majmin);
  if (existsSync(dev)) walkDevice(dev); // absent for filesystems on no block device (overlay, nfs, tmpfs)
  return [...found];
}
