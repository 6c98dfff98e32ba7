// The collector's runtime on the dump target, for a root the capture cannot open (a LUKS root stays locked in the
// capture kernel): Bun with the libraries it links, and this toolkit, staged by `load`/`start` under
// `<target mount>/.kdump-runtime` (0700) at the same paths as on the running system. The capture init mounts the
// target by UUID, binds that folder as /sysroot and chroots into it as it would into the root; the dump still goes
// to the target's path. Bun's pages there are reclaimable cache, as on the root, so crashkernel= stays as it was.
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { UsageError } from "../errors.ts";
import { stackNodes, type BlockNode } from "../collect/devices.ts";
import { programFiles } from "./binaries.ts";
import type { CaptureStorage, TargetMount } from "./storage.ts";

/** The staged runtime's folder, in the root of the target's filesystem. */
export const RUNTIME_DIR = ".kdump-runtime";

/** Toolkit files the collector needs (no tests, no lab cache). */
const TOOLKIT_PARTS = ["kdump.ts", "lib", "package.json", "tsconfig.json", "bunfig.toml"];
/** node_modules entries the collector does not run: the runtime is staged separately, the rest is for development (kdump: a link back to the toolkit). */
const NODE_MODULES_SKIP = new Set(["bun", "@oven", "typescript", "bun-types", "@types", ".bin", ".cache", ".package-lock.json", "kdump"]);

/** Where the collector runs from when the root is locked. */
export interface TargetRuntime {
  /** The locked devices under the root (for messages). */
  locked: { name: string; luksUuid: string | null }[];
  /** The target's filesystem, as the capture finds it (UUID=…) and where the running system mounts it. */
  mount: TargetMount;
  /** The staged folder on the running system: `<mount point>/.kdump-runtime`. */
  dir: string;
}

const describe = (n: BlockNode) => `${n.dmName ?? n.name}, LUKS ${n.luksUuid ?? "?"}`;

/**
 * Decides where the collector runs: null when the root is not on dm-crypt (it runs from the root); a TargetRuntime
 * when the root is locked and the dump target is an unencrypted filesystem of its own, mounted here. Throws a
 * UsageError (one line, with what to do) when the target's own filesystem is encrypted (no key file can be
 * configured), or when the root is locked and there is no such filesystem: the target on the root, a raw partition,
 * a network target, or a device target this system does not mount.
 * @example targetRuntime(captureStorage({ kind: "dir", path: "/var/crash" }, mountinfo, idx, 90), "/var/crash", false)?.dir  // "/var/crash/.kdump-runtime"
 */
export function targetRuntime(storage: CaptureStorage, target: string, remote: boolean): TargetRuntime | null {
  const crypt = (i: number) => (storage.stacks[i] ? stackNodes(storage.stacks[i]!.stack).filter((n) => n.kind === "crypt") : []);
  for (const n of storage.targetMount && storage.stacks.length > 1 ? crypt(storage.stacks.length - 1) : [])
    throw new UsageError(`the dump target ${target} is on an encrypted device (${describe(n)}), and no key file is configured to unlock it in the capture`, { hint: "dump to an unencrypted disk (path on a plain XFS/ext4 filesystem, or xfs UUID=…)" });
  const root = storage.stacks[0]?.mount.mountpoint === "/" ? crypt(0) : [];
  if (!root.length) return null;
  const why = `the root filesystem is on an encrypted device (${describe(root[0]!)}), which the capture cannot unlock`;
  const put = "put the dump path on an unencrypted filesystem of its own (e.g. /var/crash on a plain XFS or ext4 disk): the collector then runs from there";
  if (remote) throw new UsageError(`${why}, and a network target leaves no local filesystem to run the collector from (not supported yet)`, { hint: put });
  const m = storage.targetMount;
  if (m?.dir === "/tmp/kdump-target") throw new UsageError(`the dump target ${m.spec} is not mounted here, and ${why}: the collector must be staged on the target`, { hint: "mount the target (e.g. at /var/crash) and give that path" });
  if (!m || storage.stacks.length < 2) throw new UsageError(`the dump target ${target} is on the root filesystem, ${why.replace(/^the root filesystem /, "which ")}`, { hint: put });
  if (m.dir === "/tmp/kdump-target") throw new UsageError(`the dump target ${m.spec} is not mounted here, and ${why}: the collector must be staged on the target`, { hint: "mount the target (e.g. at /var/crash) and give that path" });
  return { locked: root.map((n) => ({ name: n.dmName ?? n.name, luksUuid: n.luksUuid ?? null })), mount: m, dir: join(m.dir, RUNTIME_DIR) };
}

const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The shell function `root_up` for /init (in place of mounting the root): waits for the target's device (bounded by
 * the storage step's STORAGE_END), mounts it at /runtime and binds the staged folder as /sysroot. `bun` is the Bun
 * path the init runs in the chroot, checked first so a missing stage fails in this step, by name.
 */
export function runtimeScript(rt: TargetRuntime, bun: string, timeoutSeconds: number): string {
  const m = rt.mount;
  return `# the root is locked (${rt.locked.map((l) => `LUKS ${l.luksUuid ?? l.name}`).join(", ")}): the collector runs from the runtime staged on the dump target (lib/initramfs/target_runtime.ts)
root_up() {
  spec=${sh(m.spec)}; dev=
  while :; do
    case "$spec" in /dev/*) [ -b "$spec" ] && dev="$spec" ;; *) dev=$(findfs "$spec" 2>/dev/null) ;; esac
    [ -n "$dev" ] && break
    [ $(uptime_s) -ge $STORAGE_END ] && { log "runtime step failed: $spec did not appear within ${timeoutSeconds} s of the storage step"; return 1; }
    sleep 1
  done
  mkdir -p /runtime /sysroot
  mount -t ${sh(m.fstype)} -o rw "$dev" /runtime || { log "runtime step failed: cannot mount $dev (${m.fstype})"; return 1; }
  [ -x /runtime/${RUNTIME_DIR}${sh(bun)} ] || { log "runtime step failed: no Bun at ${m.dir}/${RUNTIME_DIR}${bun} (run kdump load or start again)"; return 1; }
  mount -o bind /runtime/${RUNTIME_DIR} /sysroot || { log "runtime step failed: cannot bind ${m.dir}/${RUNTIME_DIR}"; return 1; }
  log "root is locked: the collector runs from ${m.dir}/${RUNTIME_DIR} on $spec ($dev, ${m.fstype}); the root is not opened"
}
runtime_down() { umount /runtime 2>/dev/null; }
`;
}

/** What staging did. */
export interface StagedRuntime {
  /** Files copied now (unchanged ones are kept). */
  copied: number;
  /** Bytes of the whole stage. */
  bytes: number;
  seconds: number;
}

/**
 * Stages Bun (with its interpreter and libraries), the toolkit folder of `kdump`, /etc/hostname and the mount points
 * the init uses (proc, sys, dev, tmp, the target's own path) under `rt.dir`, 0700. Files whose size and mtime match
 * are left as they are, so a second load copies nothing.
 * @example stageRuntime(plan.runtime!, collectorPaths())  // { copied: 1830, bytes: 116e6, seconds: 1.9 }
 */
export function stageRuntime(rt: TargetRuntime, paths: { bun: string; kdump: string }): StagedRuntime {
  const start = performance.now();
  const stats = { copied: 0, bytes: 0 };
  mkdirSync(rt.dir, { recursive: true, mode: 0o700 });
  chmodSync(rt.dir, 0o700);
  const put = (src: string, dest: string) => {
    const st = statSync(src);
    const to = join(rt.dir, dest);
    stats.bytes += st.size;
    const old = statSync(to, { throwIfNoEntry: false });
    if (old && old.size === st.size && Math.trunc(old.mtimeMs) === Math.trunc(st.mtimeMs)) return;
    mkdirSync(dirname(to), { recursive: true });
    cpSync(src, to, { preserveTimestamps: true, dereference: true });
    stats.copied++;
  };
  for (const [image, src] of programFiles(paths.bun)) put(src, image);
  const toolkit = dirname(paths.kdump);
  const walk = (p: string, skip?: Set<string>) => {
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st) return;
    if (!st.isDirectory()) return put(p, p);
    for (const n of readdirSync(p)) if (!skip?.has(n)) walk(join(p, n));
  };
  for (const part of TOOLKIT_PARTS) walk(join(toolkit, part));
  if (existsSync(join(toolkit, "node_modules"))) walk(join(toolkit, "node_modules"), NODE_MODULES_SKIP);
  if (existsSync("/etc/hostname")) put("/etc/hostname", "etc/hostname");
  for (const d of ["proc", "sys", "dev", "tmp", relative("/", rt.mount.dir)]) mkdirSync(join(rt.dir, d), { recursive: true });
  return { ...stats, seconds: (performance.now() - start) / 1000 };
}
