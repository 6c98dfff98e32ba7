// Runs a job in a QEMU guest (TCG, no KVM needed): boots a kernel with the lab's boot initramfs and root disk,
// reads the serial console, enforces a timeout, and lets the guest crash and reboot within one run.
import { closeSync, existsSync, mkdirSync, openSync, readSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { $ } from "bun";
import { allArches, archNamed } from "../arch/arch.ts";
import { LabError } from "../errors.ts";
import { bootInitramfs } from "./bootinitrd.ts";
import type { LabKernel } from "./kernels.ts";
import { labDir } from "./labdir.ts";
import { withSlot } from "./lock.ts";
import { buildRootfs, type RootfsOptions } from "./rootfs.ts";

/** A guest run. */
export interface GuestOptions {
  kernel: LabKernel;
  /** Shell script run as root in the guest (cwd /opt/kdump, $LAB_BOOT = 1, 2, … on each boot). */
  job: string;
  /** Added to the kernel command line, e.g. "crashkernel=256M". */
  cmdline?: string;
  /** vCPUs (default 2). */
  cpus?: number;
  /** Guest memory in MiB (default 1024). */
  memoryMiB?: number;
  /** 5-level paging (la57) on the CPU model; default true (`-cpu max`). */
  la57?: boolean;
  /** How many times the guest may boot in this run (crash → capture kernel → boot again = 3). Default 1. */
  boots?: number;
  /** Wall-clock limit for the whole run, in seconds (default 120). */
  timeoutSeconds?: number;
  /** Extra raw disks: host paths created sparse at the given size when absent. Seen as /dev/vdb, /dev/vdc… (virtio) */
  disks?: { path: string; sizeMiB: number; bus?: DiskBus }[];
  /** How the root disk is attached (default virtio: /dev/vda). */
  rootBus?: DiskBus;
  /** What the root filesystem holds besides the defaults. */
  rootfs?: RootfsOptions;
  /** Boot this root disk image in place (kept after the run) instead of a copy of the lab's busybox image. */
  rootImage?: string;
  /** The boot initramfs to use instead of the lab's busybox one that runs `job` as PID 1. */
  initrd?: Uint8Array;
  /** Stops the guest as soon as this is true of the console so far (e.g. a shell prompt that would wait forever). */
  until?: (console: string) => boolean;
  /** Called with each console line as it arrives (progress display). */
  onLine?: (line: string) => void;
  /** The qemu binary (default: the kernel's architecture's, e.g. qemu-system-x86_64, on PATH). */
  qemu?: string;
  /** More QEMU arguments (a socket network between two guests, a QMP socket). */
  extraArgs?: string[];
  /**
   * `-icount shift=N`: the guest's clock counts the instructions it ran (2^N ns each; all vCPUs share one host
   * thread) instead of following the host's clock, so uptimes measured in the guest do not depend on the host's load.
   */
  icount?: number;
}

/** What a guest run left. */
export interface GuestResult {
  /** The whole serial console, all boots. */
  console: string;
  /** The exit code of the last job that finished, or null when none did. */
  exitCode: number | null;
  /** Each finished job: the boot it ran in and its exit code. */
  exits: { boot: number; code: number }[];
  /** Kernel boots, capture kernels included; a restart before init is not one (countKernelBoots). */
  kernelBoots: number;
  /** True when the run hit its time limit and QEMU was killed. */
  timedOut: boolean;
  /** Wall-clock seconds. */
  seconds: number;
  /** The root disk image of this run (a copy; read files from it with guestFile()). */
  rootImage: string;
  /** The run's folder under .lab/runs (console.log is there). */
  dir: string;
  /** Removes the run's folder. */
  cleanup(): void;
}

/** The qemu binary, or a LabError that says how to install it. */
export async function findQemu(bin = "qemu-system-x86_64"): Promise<string> {
  const r = await $`sh -c ${`command -v ${bin}`}`.quiet().nothrow();
  const pkg = allArches().find((a) => a.qemu.binary === bin)?.qemu.package ?? "qemu-system-x86";
  if (r.exitCode !== 0) throw new LabError(`${bin} not found`, { hint: `install QEMU: apt-get install ${pkg}` });
  return r.stdout.toString().trim();
}

/**
 * Every lab kernel's base command line. no_timer_check: on a busy 2-CPU host (several TCG guests and test workers)
 * the kernel's early IO-APIC timer check can see too few ticks and panic with "IO-APIC + timer doesn't work!";
 * QEMU's timer is sound, so the lab skips that check (the capture kernel inherits it from /proc/cmdline).
 */
export const LAB_CMDLINE = "console=ttyS0 root=/dev/vda rw panic=5 oops=panic loglevel=7 no_timer_check";

/** The capture command line the lab passes to kexec-tools' `kexec -p` for fixture dumps and oracles. */
export const LAB_CAPTURE_CMDLINE = "console=ttyS0 reset_devices nr_cpus=1 irqpoll panic=5 nokaslr no_timer_check";

/**
 * A lab command line for `kernel`'s architecture: its serial console in place of ttyS0.
 * @example forArch(LAB_CAPTURE_CMDLINE, armKernel) // "console=ttyAMA0 reset_devices …"
 */
export function forArch(cmdline: string, kernel: LabKernel): string {
  return cmdline.replace("console=ttyS0", `console=${archNamed(kernel.arch ?? "x86_64").qemu.console}`);
}

/**
 * Boots a guest, runs `job`, and returns when the guest powers off (or the time limit passes).
 * @example const r = await runGuest({ kernel, job: "kdump status --json" }); r.exitCode
 */
export async function runGuest(o: GuestOptions): Promise<GuestResult> {
  const arch = archNamed(o.kernel.arch ?? "x86_64");
  const qemu = await findQemu(o.qemu ?? arch.qemu.binary);
  if (!existsSync(o.kernel.vmlinuz)) throw new LabError(`kernel ${o.kernel.vmlinuz} not found`, { hint: "fetch it with fetchKernel() or give a vmlinuz path" });
  const dir = join(labDir(), "runs", `${Date.now()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let rootImage = o.rootImage;
  if (!rootImage) {
    const base = await buildRootfs(o.kernel, o.rootfs);
    rootImage = join(dir, "root.ext4");
    await $`cp --sparse=always ${base} ${rootImage}`.quiet();
  }
  const initrd = join(dir, "boot.cpio");
  writeFileSync(initrd, o.initrd ?? (await bootInitramfs(o.kernel, o.job)));
  const drives: [string, DiskBus][] = [[rootImage, o.rootBus ?? "virtio"]];
  for (const d of o.disks ?? []) {
    if (!existsSync(d.path)) await $`truncate -s ${d.sizeMiB}M ${d.path}`.quiet();
    drives.push([d.path, d.bus ?? "virtio"]);
  }
  const cmdline = forArch([LAB_CMDLINE, o.cmdline ?? ""].join(" ").trim(), o.kernel);
  const args = [
    qemu, "-accel", "tcg", ...arch.qemu.machineArgs({ la57: o.la57 }),
    "-smp", String(o.cpus ?? 2), ...memoryArgs(o.memoryMiB ?? 1024),
    "-display", "none", "-serial", "stdio", "-monitor", "none", "-nodefaults", "-no-user-config", "-nic", "none",
    ...(o.icount === undefined ? [] : ["-icount", `shift=${o.icount}`]),
    "-kernel", o.kernel.vmlinuz, "-initrd", initrd, "-append", cmdline,
    ...driveArgs(drives, (p, i) => arch.qemu.diskArgs(p, i)),
    ...(o.extraArgs ?? []),
  ];
  return watch(args, o, dir, rootImage);
}

/**
 * QEMU arguments for `mib` of guest RAM. Up to 16 GiB a plain `-m`; above it a RAM backend with reserve=off, since
 * this host (no overcommit, no swap) refuses a plain `-m 64G` ("cannot set up guest memory") although TCG touches
 * only the pages the guest uses.
 * @example memoryArgs(65536) // ["-m", "65536", "-object", "memory-backend-ram,id=ram0,size=65536M,reserve=off", "-machine", "memory-backend=ram0"]
 */
export function memoryArgs(mib: number): string[] {
  if (mib <= 16384) return ["-m", String(mib)];
  return ["-m", String(mib), "-object", `memory-backend-ram,id=ram0,size=${mib}M,reserve=off`, "-machine", "memory-backend=ram0"];
}

/** How a disk is attached: virtio-blk (/dev/vdX), NVMe (/dev/nvmeNn1), or a SCSI disk on virtio-scsi (/dev/sdX). */
export type DiskBus = "virtio" | "nvme" | "scsi";

/** QEMU arguments for the disks, in order (each bus numbers its own disks from the first). */
export function driveArgs(drives: [string, DiskBus][], virtio: (file: string, i: number) => string[] = (p) => ["-drive", `file=${p},format=raw,if=virtio,cache=unsafe`]): string[] {
  const out: string[] = [];
  if (drives.some(([, b]) => b === "scsi")) out.push("-device", "virtio-scsi-pci,id=scsi0");
  drives.forEach(([p, bus], i) => {
    if (bus === "virtio") out.push(...virtio(p, i));
    else {
      out.push("-drive", `file=${p},format=raw,if=none,id=disk${i},cache=unsafe`);
      out.push("-device", bus === "nvme" ? `nvme,drive=disk${i},serial=kdump${i}` : `scsi-hd,drive=disk${i},bus=scsi0.0`);
    }
  });
  return out;
}

/**
 * `KDUMP_LAB_GUEST_SLOTS=N` caps the guests booted at once by every lab process on this machine (they queue for a
 * slot in /tmp/kdump-guest-slots); unset, each process boots what it asks for.
 */
async function watch(args: string[], o: GuestOptions, dir: string, rootImage: string): Promise<GuestResult> {
  const slots = Number(process.env.KDUMP_LAB_GUEST_SLOTS ?? 0);
  if (slots > 0) return withSlot("/tmp/kdump-guest-slots", slots, () => watchGuest(args, o, dir, rootImage));
  return watchGuest(args, o, dir, rootImage);
}

async function watchGuest(args: string[], o: GuestOptions, dir: string, rootImage: string): Promise<GuestResult> {
  const start = performance.now();
  const log = join(dir, "console.log");
  // The serial console goes to a file, read as it grows. Through a pipe, QEMU's UART drops characters whenever the
  // pipe stays full (a busy host that is slow to read it): a file write never has to wait.
  const out = openSync(log, "w", 0o600);
  const proc = Bun.spawn(args, { stdin: "ignore", stdout: out, stderr: "pipe" });
  closeSync(out);
  let exited = false;
  void proc.exited.then(() => (exited = true));
  const maxBoots = o.boots ?? 1;
  let text = "";
  let partial = "";
  let timedOut = false;
  const exits: { boot: number; code: number }[] = [];
  let labBoots = 0;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill("SIGKILL");
  }, (o.timeoutSeconds ?? 120) * 1000);
  const decoder = new TextDecoder();
  const input = openSync(log, "r");
  const chunk = new Uint8Array(1 << 16);
  try {
    for (let at = 0; ; ) {
      const done = exited; // read once more after QEMU exits: what it wrote last
      const n = readSync(input, chunk, 0, chunk.length, at);
      if (n === 0) {
        if (done) break;
        await Bun.sleep(50);
        continue;
      }
      at += n;
      const s = decoder.decode(chunk.subarray(0, n), { stream: true }).replace(/\r/g, "");
      text += s;
      partial += s;
      if (o.until?.(text)) proc.kill("SIGKILL");
      const lines = partial.split("\n");
      partial = lines.pop()!;
      for (const line of lines) {
        o.onLine?.(line);
        const b = /^LAB-BOOT (\d+)/.exec(line);
        if (b) labBoots++;
        const m = /^LAB-EXIT (\d+) (\d+)/.exec(line);
        if (m) exits.push({ boot: Number(m[1]), code: Number(m[2]) });
        // A guest that keeps rebooting past what the run allows is stopped rather than left to loop.
        if (b && labBoots > maxBoots) proc.kill("SIGKILL");
      }
    }
  } finally {
    closeSync(input);
  }
  const code = await proc.exited;
  clearTimeout(timer);
  const stderr = await new Response(proc.stderr).text();
  if (!timedOut && code !== 0 && exits.length === 0 && !/Linux version/.test(text))
    throw new LabError(`qemu exited with ${code} before the guest booted`, { hint: stderr.trim().split("\n").pop() || "see " + log });
  return {
    console: text,
    exitCode: exits.length ? exits[exits.length - 1]!.code : null,
    exits,
    kernelBoots: countKernelBoots(text),
    timedOut,
    seconds: (performance.now() - start) / 1000,
    rootImage,
    dir,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * The kernel boots in a console: its banners, less each one followed by another banner before that kernel reached
 * init (no "Freeing unused kernel …" nor "Run … as init process" between them). A TCG guest on a loaded host has
 * been seen to restart once while booting, before any job ran; such a restart is the lab's, not a boot of the run.
 *
 * @example countKernelBoots("Linux version 6.1\nLinux version 6.1\nRun /init as init process\n") // 1
 */
export function countKernelBoots(text: string): number {
  const parts = text.split(/Linux version \d/).slice(1);
  const reachedInit = (s: string) => /Freeing unused kernel|Run \S+ as init process/.test(s);
  return parts.filter((s, i) => i === parts.length - 1 || reachedInit(s)).length;
}

/**
 * The console from the banner of the kernel that printed `marker` on. A boot before it that panicked and restarted
 * (a false start on a loaded host: seen in CI as a 6.12 "Fatal exception in interrupt" before init, with its own
 * crashkernel reservation) is left out, so that what a test reads of "the crashed kernel" is that kernel's. The
 * console is returned whole when `marker` is absent.
 *
 * @example consoleFromBootOf(falseStart + crashed + capture, "LAB-LOADED") // crashed + capture
 */
export function consoleFromBootOf(text: string, marker: string): string {
  const at = text.indexOf(marker);
  if (at < 0) return text;
  const banner = text.lastIndexOf("Linux version ", at);
  if (banner < 0) return text;
  return text.slice(text.lastIndexOf("\n", banner) + 1);
}

/** A file from a guest's ext4 root image (read with debugfs, nothing mounted), or null when absent. */
export async function guestFile(image: string, path: string): Promise<Buffer | null> {
  const r = await $`debugfs -R ${`cat ${path}`} ${image}`.quiet().nothrow();
  if (r.exitCode !== 0 || /File not found/.test(r.stderr.toString())) return null;
  return r.stdout;
}

/** Names in a directory of a guest's ext4 root image, or null when it is absent. */
export async function guestList(image: string, path: string): Promise<string[] | null> {
  const r = await $`debugfs -R ${`ls -p ${path}`} ${image}`.quiet().nothrow();
  if (r.exitCode !== 0 || /File not found/.test(r.stderr.toString())) return null;
  return r.stdout
    .toString()
    .split("\n")
    .map((l) => l.split("/")[5])
    .filter((n): n is string => !!n && n !== "." && n !== "..");
}

/** Copies a (large) file out of a guest's ext4 root image to `dest`. */
export async function guestCopy(image: string, path: string, dest: string): Promise<void> {
  const r = await $`debugfs -R ${`dump ${path} ${dest}`} ${image}`.quiet().nothrow();
  if (r.exitCode !== 0 || !existsSync(dest)) throw new LabError(`cannot copy ${path} out of the guest disk`, { hint: r.stderr.toString().trim() });
}
