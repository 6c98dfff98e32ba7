// The lab guest's root filesystem: an ext4 image built with `mke2fs -d` (no mounting) holding busybox, the Bun
// runtime and the libraries it links, this toolkit at /opt/kdump, and one kernel's /boot files and modules.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { $ } from "bun";
import { LabError } from "../errors.ts";
import type { LabKernel } from "./kernels.ts";
import { labDir } from "./labdir.ts";
import { buildOnce } from "./lock.ts";
import { busyboxPath, ddCaptureInitramfs, guestBusybox } from "./bootinitrd.ts";
import { arm64Peers, kexecTools } from "./peers.ts";
import { archNamed, type Arch } from "../arch/arch.ts";
import { hostMachine } from "../sys/syscall_table.ts";
import { guestBun } from "./guest_bun.ts";

/** The checkout this toolkit runs from. */
export const TOOLKIT = join(import.meta.dir, "..", "..");

/** What goes into a root filesystem besides the defaults. */
export interface RootfsOptions {
  /** Extra files: guest path → host path (copied) or contents. */
  files?: Record<string, string | Uint8Array>;
  /** Image size in MiB (sparse); room for the dumps a test saves. Default 3072. */
  sizeMiB?: number;
}

/** The toolkit files copied into the guest: the package, not the tests or the lab cache. */
const TOOLKIT_PARTS = ["kdump.ts", "lib", "recipes", "package.json", "tsconfig.json", "bunfig.toml"];
/** node_modules entries left out of the guest: the runtime is installed separately, the rest is for development. */
const NODE_MODULES_SKIP = new Set(["bun", "@oven", "typescript", "bun-types", "@types", ".bin", "kdump", ".package-lock.json"]);

/** The Bun executable that runs this process (the one from node_modules in a checkout). */
export function bunPath(): string {
  return process.execPath;
}

/** Shared libraries an executable needs (from ldd), including the dynamic loader. */
export async function sharedLibraries(exe: string): Promise<string[]> {
  const out = (await $`ldd ${exe}`.quiet().nothrow()).stdout.toString();
  const libs = new Set<string>();
  const missing = [...out.matchAll(/^\s*(\S+) => not found/gm)].map((m) => m[1]!);
  if (missing.length) throw new LabError(`${exe} needs ${missing.join(", ")}, which this machine lacks`, { hint: "run `kdump lab setup` (as root): it installs the peers' libraries" });
  for (const line of out.split("\n")) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s+(\/\S+)\s+\(/.exec(line);
    if (m) libs.add(m[1]!);
  }
  return [...libs];
}

/** Feeds the Bun runtime's identity and every toolkit file that goes into a guest to `h`. */
export function hashToolkit(h: Bun.CryptoHasher): void {
  h.update(`${bunPath()}\0${statSync(bunPath()).size}\0`);
  const walk = (p: string) => {
    const st = statSync(p);
    if (st.isDirectory()) for (const n of readdirSync(p).sort()) walk(join(p, n));
    else h.update(`${relative(TOOLKIT, p)}\0`).update(readFileSync(p));
  };
  for (const part of TOOLKIT_PARTS) if (existsSync(join(TOOLKIT, part))) walk(join(TOOLKIT, part));
}

/** A content hash of everything that goes into the image, so a changed toolkit or kernel rebuilds it. */
async function inputsHash(kernel: LabKernel, opts: RootfsOptions): Promise<string> {
  const h = new Bun.CryptoHasher("sha256");
  h.update(`${kernel.release}\0${kernel.vmlinuz}\0${kernel.layout ?? "boot"}\0${opts.sizeMiB ?? 3072}\0`);
  hashToolkit(h);
  for (const [g, v] of Object.entries(opts.files ?? {}).sort()) {
    h.update(`${g}\0`);
    h.update(typeof v === "string" ? readFileSync(v) : v);
  }
  return h.digest("hex").slice(0, 16);
}

/**
 * Builds (or reuses) the root filesystem image for `kernel`; returns its path. Treat it as read-only:
 * runGuest() boots a copy of it.
 */
export async function buildRootfs(kernel: LabKernel, opts: RootfsOptions = {}): Promise<string> {
  const dir = join(labDir(), "rootfs");
  mkdirSync(dir, { recursive: true });
  const image = join(dir, `${kernel.release}-${await inputsHash(kernel, opts)}.ext4`);
  const built = () => {
    if (!existsSync(image)) return undefined;
    const now = new Date();
    utimesSync(image, now, now); // in use: keeps it from being pruned
    return image;
  };
  return buildOnce(image, built, () => makeImage(image, dir, kernel, opts));
}

async function makeImage(image: string, dir: string, kernel: LabKernel, opts: RootfsOptions): Promise<string> {
  const stage = join(dir, `.stage-${process.pid}-${Math.random().toString(36).slice(2, 8)}`); // two builds may run in one process
  rmSync(stage, { recursive: true, force: true });
  try {
    await stageTree(stage, kernel, opts);
    const tmp = `${image}.tmp`;
    rmSync(tmp, { force: true });
    const r = await $`mke2fs -q -F -t ext4 -L labroot -d ${stage} ${tmp} ${opts.sizeMiB ?? 3072}M`.quiet().nothrow();
    if (r.exitCode !== 0) throw new LabError("mke2fs -d failed building the lab root filesystem", { hint: r.stderr.toString().trim() });
    await $`mv ${tmp} ${image}`.quiet();
    prune(dir);
    return image;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/** Removes images nobody has used for an hour (a toolkit edit makes a new one; old ones only take disk). */
function prune(dir: string): void {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (!name.endsWith(".ext4")) continue;
    const st = statSync(p, { throwIfNoEntry: false }); // another process may prune it first
    if (st && Date.now() - st.mtimeMs > 3600_000) rmSync(p, { force: true });
  }
}

async function stageTree(root: string, kernel: LabKernel, opts: RootfsOptions): Promise<void> {
  for (const d of ["bin", "sbin", "usr/bin", "usr/sbin", "usr/local/bin", "etc", "proc", "sys", "dev", "run", "tmp", "root", "var/crash", "var/lib/kdump", "boot", "lab", "mnt"])
    mkdirSync(join(root, d), { recursive: true });
  // busybox and its applets
  cpSync(await guestBusybox(kernel), join(root, "bin/busybox"));
  // the host's busybox names the applets (a foreign one cannot run here; a link to an applet it lacks is harmless)
  const applets = (await $`${busyboxPath()} --list-full`.quiet()).stdout.toString().trim().split("\n");
  for (const a of applets) {
    const p = join(root, a);
    if (existsSync(p)) continue;
    mkdirSync(dirname(p), { recursive: true });
    symlinkSync(relative(dirname(p), join(root, "bin/busybox")), p);
  }
  await stageToolkit(root, archNamed(kernel.arch ?? "x86_64"));
  // the kernel, as its distro installs it: /boot/vmlinuz-R, or /usr/lib/modules/R/vmlinuz (kernel-install's layout,
  // with /lib/modules a link to it as on a merged-/usr system and nothing in /boot)
  if (kernel.layout === "usr") {
    const dest = join(root, "usr/lib/modules", kernel.release);
    cpSync(kernel.modulesDir, dest, { recursive: true });
    if (!existsSync(join(dest, "vmlinuz"))) cpSync(kernel.vmlinuz, join(dest, "vmlinuz"));
    if (kernel.config && !existsSync(join(dest, "config"))) cpSync(kernel.config, join(dest, "config"));
    mkdirSync(join(root, "lib"), { recursive: true });
    symlinkSync("../usr/lib/modules", join(root, "lib/modules"));
  } else {
    cpSync(kernel.vmlinuz, join(root, "boot", `vmlinuz-${kernel.release}`));
    if (kernel.config) cpSync(kernel.config, join(root, "boot", `config-${kernel.release}`));
    cpSync(kernel.modulesDir, join(root, "lib/modules", kernel.release), { recursive: true });
  }
  // a little of /etc
  writeFileSync(join(root, "etc/hostname"), "lab\n");
  writeFileSync(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
  writeFileSync(join(root, "etc/group"), "root:x:0:\n");
  writeFileSync(join(root, "etc/fstab"), "LABEL=labroot / ext4 defaults 0 1\n");
  writeFileSync(join(root, "lab/init"), LAB_INIT, { mode: 0o755 });
  // lab-only: kexec-tools as an independent loader and oracle (off PATH), and a busybox capture that dd's
  // /proc/vmcore to /dev/vdb, so fixtures do not depend on the code under test
  if (kernel.arch === "arm64") await stageArm64Peers(root);
  else await stageHostPeers(root);
  writeFileSync(join(root, "lab/capture-dd.cpio"), await ddCaptureInitramfs(kernel));
  for (const [g, v] of Object.entries(opts.files ?? {})) {
    const p = join(root, g);
    mkdirSync(dirname(p), { recursive: true });
    if (typeof v === "string") cpSync(v, p);
    else writeFileSync(p, v);
  }
}

/** kexec-tools from the host's Debian at /opt/peer, with the libraries it links at their own paths. */
async function stageHostPeers(root: string): Promise<void> {
  const peer = await kexecTools();
  for (const [name, path] of Object.entries({ kexec: peer.kexec, "vmcore-dmesg": peer.vmcoreDmesg })) {
    cpSync(path, join(root, "opt/peer", name));
    for (const lib of await sharedLibraries(path)) {
      mkdirSync(join(root, dirname(lib)), { recursive: true });
      if (!existsSync(join(root, lib))) cpSync(lib, join(root, lib), { dereference: true });
    }
  }
}

/**
 * sid's arm64 kexec-tools with its libraries as one tree at /opt/peer-root, and /opt/peer/kexec and vmcore-dmesg
 * as scripts that run them through that tree's dynamic loader (the busybox root has no libc of its own).
 */
async function stageArm64Peers(root: string): Promise<void> {
  const peer = await arm64Peers();
  const tree = join(root, "opt/peer-root");
  mkdirSync(join(root, "opt/peer"), { recursive: true });
  for (const part of ["usr/sbin", "usr/lib"]) cpSync(join(peer.root, part), join(tree, part), { recursive: true, verbatimSymlinks: true });
  const libs = ["usr/lib/aarch64-linux-gnu", "usr/lib/xen-4.20/lib", "usr/lib"].map((d) => `/opt/peer-root/${d}`).join(":");
  for (const name of ["kexec", "vmcore-dmesg"])
    writeFileSync(join(root, "opt/peer", name), `#!/bin/sh\nexec /opt/peer-root/usr/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1 --library-path ${libs} /opt/peer-root/usr/sbin/${name} "$@"\n`, { mode: 0o755 });
}

/** sid's arm64 glibc (from the arm64 peers' tree) at /usr/lib/aarch64-linux-gnu, linked from /lib as on Debian. */
async function stageArm64Libc(root: string): Promise<void> {
  const peer = await arm64Peers();
  const multiarch = "usr/lib/aarch64-linux-gnu";
  cpSync(join(peer.root, multiarch), join(root, multiarch), { recursive: true, verbatimSymlinks: true });
  mkdirSync(join(root, "lib"), { recursive: true });
  symlinkSync(`../${multiarch}`, join(root, "lib/aarch64-linux-gnu"));
  symlinkSync(`../${multiarch}/ld-linux-aarch64.so.1`, join(root, "lib/ld-linux-aarch64.so.1"));
}

/**
 * Puts Bun for `arch` at /usr/local/bin/bun (with the libraries it links that `root` lacks), this toolkit at
 * /opt/kdump and a `kdump` command at /usr/local/bin/kdump into the tree at `root`. An arm64 Bun (npm's build) gets
 * sid's arm64 glibc at its multiarch paths, the interpreter at /lib/ld-linux-aarch64.so.1.
 */
export async function stageToolkit(root: string, arch: Arch = archNamed(hostMachine())): Promise<void> {
  mkdirSync(join(root, "usr/local/bin"), { recursive: true });
  const bun = await guestBun(arch);
  cpSync(bun, join(root, "usr/local/bin/bun"));
  symlinkSync("bun", join(root, "usr/local/bin/bunx"));
  if (bun === bunPath())
    for (const lib of await sharedLibraries(bunPath())) {
      if (existsSync(join(root, lib))) continue;
      mkdirSync(join(root, dirname(lib)), { recursive: true });
      cpSync(lib, join(root, lib), { dereference: true });
    }
  else await stageArm64Libc(root);
  const opt = join(root, "opt/kdump");
  for (const part of TOOLKIT_PARTS) if (existsSync(join(TOOLKIT, part))) cpSync(join(TOOLKIT, part), join(opt, part), { recursive: true });
  const nm = join(TOOLKIT, "node_modules");
  for (const n of readdirSync(nm)) if (!NODE_MODULES_SKIP.has(n)) cpSync(join(nm, n), join(opt, "node_modules", n), { recursive: true, dereference: true });
  symlinkSync("..", join(opt, "node_modules/kdump"));
  mkdirSync(join(opt, "node_modules/.bin"), { recursive: true });
  symlinkSync("../kdump/kdump.ts", join(opt, "node_modules/.bin/kdump"));
  writeFileSync(join(root, "usr/local/bin/kdump"), `#!/bin/sh\nexec /usr/local/bin/bun /opt/kdump/kdump.ts "$@"\n`, { mode: 0o755 });
}

/**
 * The guest's PID 1 after switch_root: mounts the API filesystems, counts boots on the root disk, runs the job
 * (copied to /run/lab/job.sh by the boot initramfs) with LAB_BOOT set, prints `LAB-EXIT <boot> <code>`, powers off.
 */
const LAB_INIT = `#!/bin/sh
export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
mount -t proc proc /proc 2>/dev/null
mount -t sysfs sysfs /sys 2>/dev/null
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
mkdir -p /sys/kernel/debug && mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
hostname -F /etc/hostname
n=$(cat /lab/boot-count 2>/dev/null || echo 0); n=$((n+1)); echo $n > /lab/boot-count; sync
export LAB_BOOT=$n
echo "LAB-BOOT $n $(uname -r)"
cd /opt/kdump
sh /run/lab/job.sh < /dev/null
echo "LAB-EXIT $n $?"
sync
poweroff -f
`;
