// Loading a capture kernel through kexec_load (our own segments, elfcorehdr and purgatory) and the choice between
// it and kexec_file_load for `kdump load --syscall file|load|auto`. x86_64 and arm64 (each lib/arch folder lays its
// image out); kexec_load needs no CONFIG_KEXEC_FILE, which Debian's arm64 kernels lack.
import { existsSync, readFileSync } from "node:fs";
import { UsageError } from "../errors.ts";
import { KexecError } from "../sys/kexec.ts";
import { kexecLoad, type KexecLoadCalls, type KexecLoadContext, libcKexecLoad } from "../sys/kexec_load.ts";
import { archNamed, type Arch } from "../arch/arch.ts";
import type { CrashImage } from "../arch/x86_64/crash_image.ts";
import type { KexecImage } from "../arch/arm64/kexec_image.ts";
import { hostMachine } from "../sys/syscall_table.ts";
import { parseIomem, readCrashMachine } from "./crash_machine.ts";
import { labTamper } from "./lab_tamper.ts";

/** Which system call `kdump load` uses. */
export type SyscallChoice = "file" | "load" | "auto";

/** errnos of kexec_file_load after which `auto` tries kexec_load: no KEXEC_FILE, or an image it cannot parse. */
export const FALLBACK_ERRNOS = ["ENOSYS", "ENOEXEC"];

/**
 * Loads a planned capture image with kexec_load (KEXEC_ON_CRASH | this machine's KEXEC_ARCH_*). Throws KexecError.
 * @example loadWithKexecLoad(X86_64.planCrashImage({ kernel, initrd, cmdline, machine }))
 */
export function loadWithKexecLoad(plan: CrashImage, sys: KexecLoadCalls = libcKexecLoad, context: KexecLoadContext = {}): void {
  kexecLoad(plan.entry, plan.segments, true, context, sys);
}

/** Where a capture kernel comes from. */
export interface CaptureFiles {
  /** The kernel image path (bzImage, arm64 Image or zboot). */
  kernel: string;
  /** The initramfs path, or null. */
  initrd: string | null;
  /** The capture command line (elfcorehdr= is added). */
  cmdline: string;
}

/**
 * Reads the machine and the files, lays the image out as `arch` does (this machine's by default) and loads it with
 * kexec_load. Returns the plan.
 * @example loadCaptureWithKexecLoad({ kernel: "/boot/vmlinuz-6.1.0-56-cloud-amd64", initrd: img, cmdline })
 */
export function loadCaptureWithKexecLoad(f: CaptureFiles, root = "", sys: KexecLoadCalls = libcKexecLoad, arch: Arch = archNamed(hostMachine())): CrashImage {
  const machine = readCrashMachine(root, arch.kimageStart);
  const planned = arch.planCrashImage({
    kernel: new Uint8Array(readFileSync(f.kernel)),
    initrd: f.initrd ? new Uint8Array(readFileSync(f.initrd)) : null,
    cmdline: f.cmdline,
    machine,
    kernelName: f.kernel,
  });
  const plan = labTamper(planned, process.env, root); // unchanged unless a lab test asks (KDUMP_LAB_TAMPER_SEGMENT)
  loadWithKexecLoad(plan, sys, { ...loadState(root), reserved: machine.crash });
  return plan;
}

/** Lockdown, uid and kexec_load_disabled, for error messages. */
export function loadState(root = ""): KexecLoadContext {
  const read = (p: string) => {
    try {
      return readFileSync(`${root}${p}`, "utf8");
    } catch {
      return null;
    }
  };
  const lockdown = read("/sys/kernel/security/lockdown");
  return {
    lockdown: lockdown === null ? null : (/\[(\w+)\]/.exec(lockdown)?.[1] ?? null),
    uid: process.getuid?.(),
    loadDisabled: read("/proc/sys/kernel/kexec_load_disabled")?.trim() === "1",
  };
}

/**
 * Runs the load the choice asks for. `auto` tries kexec_file_load and falls back to kexec_load only when it failed
 * with ENOSYS or ENOEXEC; a signature or lockdown refusal (EKEYREJECTED, ENOKEY, EBADMSG, EPERM) is thrown as is,
 * since lockdown forbids kexec_load too. Returns the call that loaded.
 * @example loadWithChoice("auto", () => kexecFileLoad(l), () => loadCaptureWithKexecLoad(f)) // "file"
 */
export function loadWithChoice(choice: SyscallChoice, viaFile: () => void, viaLoad: () => void): "file" | "load" {
  if (choice === "load") {
    viaLoad();
    return "load";
  }
  try {
    viaFile();
    return "file";
  } catch (e) {
    if (choice === "auto" && e instanceof KexecError && FALLBACK_ERRNOS.includes(e.code)) {
      viaLoad();
      return "load";
    }
    throw e;
  }
}

/**
 * Stages a kernel for `kdump exec` with kexec_load (no KEXEC_ON_CRASH), laid out as `arch` does from `root`'s
 * /proc/iomem and /sys/firmware/fdt. UsageError where the architecture has no such layout (x86_64 stages with
 * kexec_file_load). Returns the plan.
 * @example stageWithKexecLoad({ kernel: "/boot/vmlinuz-7.2.13+deb14-cloud-arm64", initrd: null, cmdline: "console=ttyAMA0" })
 */
export function stageWithKexecLoad(f: CaptureFiles, root = "", sys: KexecLoadCalls = libcKexecLoad, arch: Arch = archNamed(hostMachine())): KexecImage {
  if (!arch.planKexecImage) throw new UsageError(`--syscall load stages kernels for \`kdump exec\` on arm64 only, not ${arch.name}`, { hint: "stage it with --syscall file" });
  const fdt = `${root}/sys/firmware/fdt`;
  const plan = arch.planKexecImage({
    kernel: new Uint8Array(readFileSync(f.kernel)),
    initrd: f.initrd ? new Uint8Array(readFileSync(f.initrd)) : null,
    cmdline: f.cmdline,
    iomem: parseIomem(readFileSync(`${root}/proc/iomem`, "utf8")),
    dtb: existsSync(fdt) ? new Uint8Array(readFileSync(fdt)) : null,
    kernelName: f.kernel,
  });
  kexecLoad(plan.entry, plan.segments, false, loadState(root), sys);
  return plan;
}

/**
 * `kdump load --syscall load` for a plan of lib/load/load.ts: the capture kernel, or with --kexec a kernel staged for
 * `kdump exec` (arm64). `calls` is the host's kexec_load; a fake host without one is refused, so no test reaches the
 * kernel.
 * @example loadPlanWithKexecLoad(plan, realHost.kexecLoad)
 */
export function loadPlanWithKexecLoad(p: { mode: "crash" | "kexec"; kernel: string; initrd: string | null; cmdline: string }, calls: KexecLoadCalls | undefined): CrashImage | KexecImage {
  if (!calls) throw new UsageError("kexec_load is not available on this host", { hint: "use --syscall file" });
  if (p.mode !== "crash") return stageWithKexecLoad({ kernel: p.kernel, initrd: p.initrd, cmdline: p.cmdline }, "", calls);
  return loadCaptureWithKexecLoad({ kernel: p.kernel, initrd: p.initrd, cmdline: p.cmdline }, "", calls);
}
