// A lab guest that is a real Debian system: bookworm from the Debian registry (debootstrap --variant=minbase plus
// systemd, udev, kmod), systemd as PID 1, one lab kernel with its modules (depmod run in the tree), Bun and this
// toolkit; written with `mke2fs -d` (no loop mounts). A oneshot unit runs the job after boot and prints markers.
import { cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { $ } from "bun";
import { LabError } from "../errors.ts";
import { systemdBootInitramfs } from "./bootinitrd.ts";
import type { LabKernel } from "./kernels.ts";
import { labDir } from "./labdir.ts";
import { buildOnce } from "./lock.ts";
import { runGuest, type GuestOptions, type GuestResult } from "./qemu.ts";
import { hashToolkit, stageToolkit } from "./rootfs.ts";

/** The Debian suite of the guest. */
export const DEBIAN_SUITE = "bookworm";
/**
 * Packages on top of minbase: systemd as init, udev and kmod as a server has them, linux-base for kernel packages'
 * maintainer scripts (`dpkg -i linux-image-…` in the guest), busybox-static for the capture initramfs.
 */
export const DEBIAN_PACKAGES = ["systemd", "systemd-sysv", "udev", "kmod", "linux-base", "busybox-static"];
/** The registry debootstrap reads. */
const MIRROR = "http://deb.debian.org/debian";

/** What goes into a Debian guest's image besides the defaults. */
export interface DebianImageOptions {
  /** Extra files: guest path → host path (copied) or contents. */
  files?: Record<string, string | Uint8Array>;
  /** Image size in MiB (sparse). Default 3072. */
  sizeMiB?: number;
  /** Debian packages on top of DEBIAN_PACKAGES (a base of their own, e.g. openssh-server for a receiver). */
  packages?: string[];
}

/**
 * The debootstrapped tree (cached under `.lab/debian/`, built once: ~2-4 minutes and ~60 MB of downloads).
 * @example const root = await debianBase(); existsSync(join(root, "lib/systemd/systemd"))
 */
export async function debianBase(extra: string[] = []): Promise<string> {
  const packages = [...DEBIAN_PACKAGES, ...extra];
  const h = new Bun.CryptoHasher("sha256").update(`${DEBIAN_SUITE}\0${packages.join(",")}`).digest("hex").slice(0, 12);
  const dir = join(labDir(), "debian", `${DEBIAN_SUITE}-minbase-${h}`);
  mkdirSync(dirname(dir), { recursive: true, mode: 0o700 });
  const done = () => (existsSync(join(dir, "lib/systemd/systemd")) ? dir : undefined);
  return buildOnce(dir, done, async () => {
    const tmp = `${dir}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    const r = await $`debootstrap --variant=minbase --include=${packages.join(",")} ${DEBIAN_SUITE} ${tmp} ${MIRROR}`.quiet().nothrow();
    if (r.exitCode !== 0)
      throw new LabError(`debootstrap of ${DEBIAN_SUITE} failed`, { hint: `${r.stdout.toString().trim().split("\n").pop()}; install it with apt-get install debootstrap (see ${tmp}/debootstrap/debootstrap.log)` });
    rmSync(join(tmp, "var/cache/apt/archives"), { recursive: true, force: true });
    mkdirSync(join(tmp, "var/cache/apt/archives/partial"), { recursive: true });
    renameSync(tmp, dir);
    return dir;
  });
}

/**
 * The root image of a Debian guest for `kernel` (cached by a hash of its inputs). Treat it as read-only:
 * runDebianGuest() boots a copy.
 */
export async function buildDebianImage(kernel: LabKernel, opts: DebianImageOptions = {}): Promise<string> {
  const base = await debianBase(opts.packages);
  const h = new Bun.CryptoHasher("sha256");
  h.update(`${base}\0${kernel.release}\0${kernel.vmlinuz}\0${opts.sizeMiB ?? 3072}\0${RUN_JOB}\0${JOB_UNIT}\0`);
  hashToolkit(h);
  for (const [g, v] of Object.entries(opts.files ?? {}).sort()) h.update(`${g}\0`).update(typeof v === "string" ? await Bun.file(v).bytes() : v);
  const dir = join(labDir(), "debian");
  const image = join(dir, `${kernel.release}-${h.digest("hex").slice(0, 16)}.ext4`);
  const built = () => {
    if (!existsSync(image)) return undefined;
    const now = new Date();
    utimesSync(image, now, now);
    return image;
  };
  return buildOnce(image, built, async () => {
    const stage = join(dir, `.stage-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
    try {
      // hard links: the stage costs no copy; every file changed below is new or replaced, never written in place
      await $`cp -al ${base} ${stage}`.quiet();
      await stageGuest(stage, kernel, opts);
      const tmp = `${image}.tmp`;
      rmSync(tmp, { force: true });
      const r = await $`mke2fs -q -F -t ext4 -L labroot -d ${stage} ${tmp} ${opts.sizeMiB ?? 3072}M`.quiet().nothrow();
      if (r.exitCode !== 0) throw new LabError("mke2fs -d failed building the Debian guest image", { hint: r.stderr.toString().trim() });
      renameSync(tmp, image);
      prune(dir, image);
      return image;
    } finally {
      rmSync(stage, { recursive: true, force: true });
    }
  });
}

/** Removes Debian guest images nobody has used for an hour. */
function prune(dir: string, keep: string): void {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (!name.endsWith(".ext4") || p === keep) continue;
    const st = Bun.file(p);
    if (Date.now() - st.lastModified > 3600_000) rmSync(p, { force: true });
  }
}

/** Writes `data` at `path` under `root` as a new file (never through a hard link into the cached base). */
function put(root: string, path: string, data: string | Uint8Array, mode = 0o644): void {
  const p = join(root, path);
  mkdirSync(dirname(p), { recursive: true });
  rmSync(p, { force: true });
  writeFileSync(p, data, { mode });
}

/** Points `unit` at /dev/null (systemctl mask, offline). */
function mask(root: string, unit: string): void {
  const p = join(root, "etc/systemd/system", unit);
  rmSync(p, { force: true });
  symlinkSync("/dev/null", p);
}

async function stageGuest(root: string, kernel: LabKernel, opts: DebianImageOptions): Promise<void> {
  // the kernel as its package installs it, with modules.dep (the package ships none; depmod runs in the tree)
  cpSync(kernel.vmlinuz, join(root, "boot", `vmlinuz-${kernel.release}`));
  if (kernel.config) cpSync(kernel.config, join(root, "boot", `config-${kernel.release}`));
  cpSync(kernel.modulesDir, join(root, "lib/modules", kernel.release), { recursive: true });
  const dm = await $`chroot ${root} /sbin/depmod ${kernel.release}`.quiet().nothrow();
  if (dm.exitCode !== 0) throw new LabError(`depmod ${kernel.release} failed in the guest tree`, { hint: dm.stderr.toString().trim() });
  await stageToolkit(root);
  put(root, "etc/hostname", "lab\n");
  put(root, "etc/hosts", "127.0.0.1 localhost\n127.0.1.1 lab\n");
  put(root, "etc/fstab", "LABEL=labroot / ext4 defaults 0 0\n");
  put(root, "etc/machine-id", "6b646d70206c61622067756573742031\n", 0o444);
  put(root, "etc/profile.d/kdump.sh", "export PATH=/usr/local/bin:$PATH\n");
  // a quiet, fast boot: no logins on the console the tests read, no first-boot questions, no timers
  for (const u of ["serial-getty@ttyS0.service", "getty@tty1.service", "systemd-firstboot.service", "apt-daily.timer", "apt-daily-upgrade.timer", "e2scrub_all.timer", "e2scrub_reap.service", "fstrim.timer", "getty-static.service"]) mask(root, u);
  put(root, "lab/run-job", RUN_JOB, 0o755);
  put(root, "etc/systemd/system/lab-job.service", JOB_UNIT);
  mkdirSync(join(root, "etc/systemd/system/multi-user.target.wants"), { recursive: true });
  symlinkSync("/etc/systemd/system/lab-job.service", join(root, "etc/systemd/system/multi-user.target.wants/lab-job.service"));
  mkdirSync(join(root, "var/crash"), { recursive: true });
  for (const [g, v] of Object.entries(opts.files ?? {})) {
    if (typeof v === "string") {
      mkdirSync(dirname(join(root, g)), { recursive: true });
      cpSync(v, join(root, g));
    } else put(root, g, v);
  }
}

/**
 * Runs the job after each boot: counts boots on the disk, prints `LAB-BOOT n release` and `LAB-EXIT n code` on the
 * serial console; then powers off, or reboots when the job wrote /run/lab-reboot (`systemctl reboot`, a clean one).
 */
const RUN_JOB = `#!/bin/sh
export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
n=$(cat /lab/boot-count 2>/dev/null || echo 0); n=$((n+1)); echo $n > /lab/boot-count; sync
export LAB_BOOT=$n
echo "LAB-BOOT $n $(uname -r) $(cut -d' ' -f1 /proc/uptime)"
cd /opt/kdump
sh /lab/job.sh < /dev/null
echo "LAB-EXIT $n $?"
sync
# the manager directly (private socket): "systemctl reboot" goes through logind over D-Bus, which minbase lacks
if [ -e /run/lab-reboot ]; then systemctl start reboot.target --job-mode=replace-irreversibly --no-block; else systemctl poweroff --force; fi
`;

/** The oneshot unit that runs the job once the system is up, its output on the serial console. */
const JOB_UNIT = `[Unit]
Description=lab job (/lab/job.sh)
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/lab/run-job
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
`;

/** A Debian guest run: GuestOptions, with the image's extra files, or a disk a previous run left to boot again. */
export interface DebianGuestOptions extends Omit<GuestOptions, "rootfs" | "rootImage" | "initrd"> {
  /** Files for the image (a fresh copy of the cached image is made). */
  image?: DebianImageOptions;
  /** Boot this disk (a previous run's `rootImage`) in place instead of a fresh copy: the box as it was left. */
  disk?: string;
}

/**
 * Boots a Debian systemd guest and runs `job` after boot ($LAB_BOOT counts this run's boots; `touch /run/lab-reboot`
 * makes the guest reboot after the job instead of powering off). Returns when QEMU exits.
 * @example const r = await runDebianGuest({ kernel, job: "systemctl is-system-running" }); r.exitCode
 */
export async function runDebianGuest(o: DebianGuestOptions): Promise<GuestResult> {
  let disk = o.disk;
  if (!disk) {
    const base = await buildDebianImage(o.kernel, o.image);
    const dir = join(labDir(), "runs");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    disk = join(dir, `debian-${Date.now()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}.ext4`);
    await $`cp --sparse=always ${base} ${disk}`.quiet();
  }
  const run = `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  const r = await runGuest({ ...o, rootImage: disk, initrd: await systemdBootInitramfs(o.kernel, o.job, run), timeoutSeconds: o.timeoutSeconds ?? 300 });
  const cleanup = r.cleanup;
  // a disk this run made goes with it; one passed in belongs to the caller's earlier run
  return { ...r, cleanup: () => (cleanup(), o.disk || rmSync(disk!, { force: true })) };
}

/**
 * The Debian package of a lab kernel (`apt-get download`, cached under `.lab/debian/debs/`), for installing it in a
 * guest with dpkg -i as a user would.
 * @example await kernelDeb(await fetchKernel("6.12"))  // ".../linux-image-6.12.117+deb12-cloud-amd64_….deb"
 */
export async function kernelDeb(kernel: LabKernel): Promise<string> {
  if (!kernel.package) throw new LabError(`kernel ${kernel.release} did not come from a Debian package`, { hint: "use a kernel from fetchKernel()" });
  const dir = join(labDir(), "debian", "debs", kernel.package);
  const find = () => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".deb")).map((f) => join(dir, f))[0] : undefined);
  return buildOnce(dir, find, async () => {
    const tmp = `${dir}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    const r = await $`apt-get download ${kernel.package}`.cwd(tmp).quiet().nothrow();
    if (r.exitCode !== 0) throw new LabError(`apt-get download ${kernel.package} failed`, { hint: r.stderr.toString().trim().split("\n").pop() });
    renameSync(tmp, dir);
    return find()!;
  });
}
