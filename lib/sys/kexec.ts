// kexec_file_load(2) on x86_64 (Linux 3.17+, CONFIG_KEXEC_FILE): load or unload a kernel for kexec or for a crash,
// and the errno → what-to-do mapping. The call goes through lib/sys/libc.ts; callers pass a fake in tests.
import { closeSync, openSync } from "node:fs";
import { SyscallError } from "../errors.ts";
import { cstring, errnoName, syscall, type SyscallResult } from "./libc.ts";

/** kexec_file_load flags (include/uapi/linux/kexec.h). */
export const KEXEC_FILE = {
  /** Unload the loaded image instead of loading one. */
  UNLOAD: 0x1,
  /** The crash (capture) image, started by a panic; without it the image is for `kexec -e`. */
  ON_CRASH: 0x2,
  /** No initramfs: initrd_fd is ignored. */
  NO_INITRAMFS: 0x4,
} as const;

/** The system calls kexec needs; `libcKexec` is the real one, tests pass a fake. */
export interface KexecCalls {
  /** kexec_file_load(kernel_fd, initrd_fd, cmdline_len, cmdline, flags); cmdline is NUL-terminated or null. */
  kexecFileLoad(kernelFd: number, initrdFd: number, cmdline: Uint8Array | null, flags: number): SyscallResult;
}

/** The real kexec_file_load through libc's syscall(). */
export const libcKexec: KexecCalls = {
  kexecFileLoad: (kernelFd, initrdFd, cmdline, flags) =>
    syscall("kexec_file_load", kernelFd, initrdFd, cmdline ? cmdline.length : 0, cmdline, flags),
};

/** What was being loaded when kexec_file_load failed; the error message is built from it. */
export interface KexecContext {
  /** The kernel image path. */
  kernel?: string;
  /** The initramfs path, if any. */
  initrd?: string;
  /** Memory the kernel image needs in the reservation (its bzImage init_size), bytes. */
  kernelBytes?: number;
  /** Size of the initramfs file, bytes. */
  initrdBytes?: number;
  /** Memory a capture with this image needs in all (load plus run), bytes; the hint suggests it. */
  needBytes?: number;
  /** Bytes reserved for the capture kernel (/sys/kernel/kexec_crash_size); null when unknown. */
  reserved?: number | null;
  /** Length of the command line including its NUL, and the most the kernel image accepts. */
  cmdlineBytes?: number;
  /** The image's cmdline_size from its setup header. */
  cmdlineMax?: number;
  /** Effective uid of the caller. */
  uid?: number;
  /** /proc/sys/kernel/kexec_load_disabled is 1. */
  loadDisabled?: boolean;
  /** Active lockdown mode ("none", "integrity", "confidentiality") or null without the LSM. */
  lockdown?: string | null;
}

/** A kexec_file_load failure: the errno, what it means for this load, and what to do. */
export class KexecError extends SyscallError {
  override name = "KexecError";
}

const MiB = 1048576;
const mib = (n: number) => `${(n / MiB).toFixed(1).replace(/\.0$/, "")} MiB`;

/**
 * The typed error for a failed kexec_file_load: `errno` explained for this `op` ("load", "load-crash",
 * "unload", "unload-crash") with the context the caller knows.
 * @example kexecError(99, "load-crash", { reserved: 0 }).summary() // "kexec_file_load failed with EADDRNOTAVAIL (99): no memory is reserved … "
 */
export function kexecError(errno: number, op: "load" | "load-crash" | "unload" | "unload-crash", c: KexecContext = {}): KexecError {
  const code = errnoName(errno);
  const crash = op.endsWith("crash");
  const what = c.kernel ? `${c.kernel}${c.initrd ? ` + ${c.initrd}` : ""}` : "the image";
  const [detail, hint] = explain(code, crash, op.startsWith("unload"), what, c);
  return new KexecError("kexec_file_load", errno, code, { detail, hint });
}

function explain(code: string, crash: boolean, unload: boolean, what: string, c: KexecContext): [string, string] {
  switch (code) {
    case "EADDRNOTAVAIL":
    case "ENOMEM": {
      if (!crash) return [`not enough free memory to stage ${what}`, "free memory or use a smaller initramfs"];
      if (!c.reserved)
        return ["no memory is reserved for a capture kernel", "boot with crashkernel= (e.g. crashkernel=256M; `kdump recipes/setup-grub.ts`) and reboot"];
      const sizes = c.kernelBytes === undefined ? "" : `: kernel ${mib(c.kernelBytes)} + initramfs ${mib(c.initrdBytes ?? 0)} need ${mib(c.kernelBytes + (c.initrdBytes ?? 0))} to load`;
      const need = c.needBytes ?? (c.kernelBytes ?? 0) + (c.initrdBytes ?? 0) + 64 * MiB;
      return [
        `${what} does not fit the reservation${sizes}, ${mib(c.reserved)} reserved`,
        `raise crashkernel= to at least ${Math.ceil(need / (16 * MiB)) * 16}M and reboot, or load a smaller kernel or initramfs`,
      ];
    }
    case "EPERM": {
      const why: string[] = [];
      if (c.uid !== undefined && c.uid !== 0) why.push(`not root (uid ${c.uid}); CAP_SYS_BOOT is needed`);
      if (c.loadDisabled) why.push("kexec is disabled until the next boot (kernel.kexec_load_disabled=1)");
      if (c.lockdown && c.lockdown !== "none") why.push(`kernel lockdown is "${c.lockdown}": only signed kernels may be loaded`);
      return [
        why.length ? why.join("; ") : "the kernel refused kexec (not root, kexec_load_disabled, lockdown or a spent kexec_load_limit)",
        c.uid !== undefined && c.uid !== 0 ? "run as root" : "check /proc/sys/kernel/kexec_load_disabled and /sys/kernel/security/lockdown; load a kernel signed by a trusted key",
      ];
    }
    case "EKEYREJECTED":
      return [`the signature of ${c.kernel ?? "the kernel"} was rejected (signature enforcement: KEXEC_SIG, lockdown or Secure Boot)`, "load a kernel signed by a key the running kernel trusts (the distro's signed vmlinuz)"];
    case "ENOKEY":
      return [`${c.kernel ?? "the kernel"} is unsigned or signed by an unknown key and signatures are enforced`, "load the distro's signed kernel, or enroll its key in the kernel's keyring (MOK)"];
    case "EBADMSG":
      return [`the signature of ${c.kernel ?? "the kernel"} is malformed and signatures are enforced`, "reinstall the kernel package to get an intact signed image"];
    case "ENOEXEC":
      return [`${c.kernel ?? "the file"} is not a kernel image this kernel can load`, "give an x86_64 bzImage (e.g. /boot/vmlinuz-RELEASE), not a vmlinux ELF, an initramfs or a compressed file"];
    case "EBUSY":
      return [unload ? "the image is in use" : "another kexec load is in progress or the crash image is busy", "wait a moment and retry"];
    case "EINVAL":
      if (c.cmdlineBytes !== undefined && c.cmdlineMax !== undefined && c.cmdlineBytes > c.cmdlineMax)
        return [`the command line is ${c.cmdlineBytes} bytes; the kernel accepts ${c.cmdlineMax}`, "shorten it with --remove or --cmdline"];
      return ["the kernel rejected the arguments (command line too long or not terminated, unknown flags, or an initramfs it cannot use)", "check the command line and initramfs; dmesg has the kernel's reason"];
    case "ENOSYS":
      return ["this kernel has no kexec_file_load (CONFIG_KEXEC_FILE is off)", "use the kexec_load path: `kdump load --syscall load` (or `--syscall auto`)"];
    case "ENOENT":
      return [unload ? `no ${crash ? "capture" : "kexec"} kernel is loaded` : "a file vanished while loading", unload ? "nothing to unload" : "retry"];
    default:
      return [unload ? "unloading failed" : `loading ${what} failed`, "see dmesg for the kernel's reason"];
  }
}

/** What to load. */
export interface KexecLoad {
  /** Path of the kernel image (bzImage). */
  kernel: string;
  /** Path of the initramfs, or null for none (NO_INITRAMFS). */
  initrd: string | null;
  /** The new kernel's command line (without NUL). */
  cmdline: string;
  /** Load as the crash (capture) kernel. */
  crash: boolean;
}

/**
 * Loads a kernel with kexec_file_load. Throws KexecError with the errno explained (context adds sizes and state).
 * @example kexecFileLoad({ kernel: "/boot/vmlinuz-6.1.0-56-cloud-amd64", initrd: img, cmdline, crash: true })
 */
export function kexecFileLoad(l: KexecLoad, context: KexecContext = {}, calls: KexecCalls = libcKexec): void {
  const kfd = openSync(l.kernel, "r");
  const ifd = l.initrd ? openSync(l.initrd, "r") : -1;
  try {
    const flags = (l.crash ? KEXEC_FILE.ON_CRASH : 0) | (l.initrd ? 0 : KEXEC_FILE.NO_INITRAMFS);
    const line = cstring(l.cmdline); // cmdline_len counts the trailing NUL
    const r = calls.kexecFileLoad(kfd, ifd, line, flags);
    if (r.ret !== 0n)
      throw kexecError(r.errno, l.crash ? "load-crash" : "load", { kernel: l.kernel, initrd: l.initrd ?? undefined, cmdlineBytes: line.length, ...context });
  } finally {
    closeSync(kfd);
    if (ifd >= 0) closeSync(ifd);
  }
}

/** Unloads the crash kernel (crash) or the staged kexec kernel. ENOENT (nothing loaded) is not an error. */
export function kexecFileUnload(crash: boolean, calls: KexecCalls = libcKexec): void {
  const r = calls.kexecFileLoad(-1, -1, null, KEXEC_FILE.UNLOAD | (crash ? KEXEC_FILE.ON_CRASH : 0));
  if (r.ret !== 0n && errnoName(r.errno) !== "ENOENT") throw kexecError(r.errno, crash ? "unload-crash" : "unload");
}
