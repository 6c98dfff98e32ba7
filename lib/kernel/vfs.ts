// Paths and mounts of the crashed kernel (fs/d_path.c, fs/namespace.c): a dentry's path up through its mount's
// parents, the mounts of a namespace (mnt_namespace.list up to 6.7, the mounts rb-tree since 6.8's
// 2eea9ce4310d "mounts: keep list of mounts in an rbtree"), file type letters from i_mode.
import type { Kernel } from "./kernel.ts";
import { listForEachEntry, rbtreeForEachEntry } from "./iterators.ts";
import type { KernelObject } from "./object.ts";

/** One mount of a namespace. */
export interface MountEntry {
  /** Address of its struct mount. */
  mount: bigint;
  /** Address of its super_block. */
  superblock: bigint;
  /** File system type name (ext4, proc…). */
  type: string;
  /** The device name it was mounted from. */
  devname: string;
  /** Where it is mounted. */
  dirname: string;
}

/** The name of a dentry (d_name.name). */
function dname(d: KernelObject): string {
  return d.member("d_name.name").string(256);
}

/**
 * The path of `dentry` seen through the mount `mnt` (a struct mount), as d_path() builds it.
 * @example dentryPath(k, file.member("f_path.dentry").deref(), k.containerOf(file.member("f_path.mnt"), "struct mount", "mnt"))
 */
export function dentryPath(k: Kernel, dentry: KernelObject, mnt: KernelObject): string {
  const parts: string[] = [];
  let d = dentry;
  let m = mnt;
  for (let i = 0; i < 256; i++) {
    const root = m.member("mnt.mnt_root").integer();
    if (d.address === root) {
      const parent = m.member("mnt_parent").deref();
      if (parent.address === m.address) break;
      d = m.member("mnt_mountpoint").deref();
      m = parent;
      continue;
    }
    const up = d.member("d_parent").deref();
    if (up.address === d.address) {
      // A dentry of an unmounted or pseudo file system: its own name is the path (pipe:, socket:…).
      parts.push(dname(d));
      break;
    }
    parts.push(dname(d));
    d = up;
  }
  return "/" + parts.reverse().join("/");
}

/**
 * The mounts of the namespace of `task` (default init_task), in the kernel's order.
 * @example readMounts(k).map((m) => m.dirname)
 */
export function readMounts(k: Kernel, task: KernelObject = k.var("init_task")): MountEntry[] {
  const ns = task.member("nsproxy").member("mnt_ns").deref();
  const mounts = ns.has("list") ? listForEachEntry(ns.member("list"), "struct mount", "mnt_list") : rbtreeForEachEntry(ns.member("mounts"), "struct mount", "mnt_node");
  const out: MountEntry[] = [];
  for (const m of mounts) {
    const sb = m.member("mnt.mnt_sb").deref();
    out.push({
      mount: m.address!,
      superblock: sb.address!,
      type: sb.member("s_type").member("name").string(64),
      devname: m.member("mnt_devname").string(256),
      dirname: dentryPath(k, m.member("mnt_mountpoint").deref(), m.member("mnt_parent").deref()),
    });
  }
  return out;
}

/** ls's type names by S_IFMT, as crash's `files` prints them. */
export function fileType(mode: number): string {
  return { 0o140000: "SOCK", 0o120000: "LNK", 0o100000: "REG", 0o60000: "BLK", 0o40000: "DIR", 0o20000: "CHR", 0o10000: "FIFO" }[mode & 0o170000] ?? "UNKN";
}
