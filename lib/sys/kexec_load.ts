// kexec_load(2) on x86_64 and arm64 (Linux 2.6.13+, CONFIG_KEXEC): hand the kernel a list of segments and an entry point, and
// the errno → what-to-do mapping. The call goes through lib/sys/libc.ts; callers pass a fake in tests.
import { ptr } from "bun:ffi";
import { archNamed } from "../arch/arch.ts";
import { hostMachine } from "./syscall_table.ts";
import { errnoName, syscall, type SyscallResult } from "./libc.ts";
import { KexecError } from "./kexec.ts";

/** kexec_load flags (include/uapi/linux/kexec.h). */
export const KEXEC_LOAD = {
  /** Load the crash (capture) image, started by a panic. */
  ON_CRASH: 0x1,
  /** The image's architecture in bits 16–31: EM_X86_64 (62); each lib/arch/<name> has its own (kexecArch). */
  ARCH_X86_64: 62 << 16,
} as const;

/** This machine's KEXEC_ARCH_* flag (UnsupportedMachineError where kdump has no lib/arch folder). */
function hostKexecArch(): number {
  return archNamed(hostMachine()).kexecArch;
}

/** The most segments the kernel accepts (KEXEC_SEGMENT_MAX). */
export const KEXEC_SEGMENT_MAX = 16;

/** A segment as kexec_load takes it. */
export interface LoadSegment {
  /** The bytes to copy. */
  data: Uint8Array;
  /** Physical destination, page aligned. */
  mem: bigint;
  /** Memory size, page aligned, ≥ data.length. */
  memsz: number;
}

/** The system call; `libcKexecLoad` is the real one, tests pass a fake. */
export interface KexecLoadCalls {
  /** kexec_load(entry, nr_segments, segments, flags); `segments` is the packed struct kexec_segment array. */
  kexecLoad(entry: bigint, nrSegments: number, segments: Uint8Array | null, flags: number): SyscallResult;
}

/** The real kexec_load through libc's syscall(). */
export const libcKexecLoad: KexecLoadCalls = {
  kexecLoad: (entry, nr, segments, flags) => syscall("kexec_load", entry, nr, segments, flags),
};

/** What the caller knows when kexec_load fails; the message is built from it. */
export interface KexecLoadContext {
  /** Active lockdown mode ("none", "integrity", "confidentiality") or null without the LSM. */
  lockdown?: string | null;
  /** Effective uid. */
  uid?: number;
  /** /proc/sys/kernel/kexec_load_disabled is 1. */
  loadDisabled?: boolean;
  /** The reservation, for EADDRNOTAVAIL/ENOMEM messages. */
  reserved?: { start: bigint; end: bigint } | null;
}

/**
 * Packs segments into the struct kexec_segment array (pointers into `segments[i].data`: keep them alive).
 * @example packSegments([{ data, mem: 0x30000000n, memsz: 0x400000 }]).length // 32
 */
export function packSegments(segments: LoadSegment[]): Uint8Array {
  // struct kexec_segment { const void *buf; size_t bufsz; const void *mem; size_t memsz; };  (32 bytes)
  const out = new Uint8Array(32 * segments.length);
  const v = new DataView(out.buffer);
  const LE = true;
  segments.forEach((s, i) => {
    v.setBigUint64(i * 32, s.data.length ? BigInt(ptr(s.data)) : 0n, LE); // buf (8): the caller keeps `data` alive
    v.setBigUint64(i * 32 + 8, BigInt(s.data.length), LE); // bufsz (8)
    v.setBigUint64(i * 32 + 16, s.mem, LE); // mem (8)
    v.setBigUint64(i * 32 + 24, BigInt(s.memsz), LE); // memsz (8)
  });
  return out;
}

/** The typed error for a failed kexec_load: what the errno means for a capture load, and what to do. */
export function kexecLoadError(errno: number, c: KexecLoadContext = {}): KexecError {
  const code = errnoName(errno);
  const [detail, hint] = explain(code, c);
  return new KexecError("kexec_load", errno, code, { detail, hint });
}

function explain(code: string, c: KexecLoadContext): [string, string] {
  const hex = (x: bigint) => `0x${x.toString(16)}`;
  switch (code) {
    case "EPERM":
      if (c.lockdown && c.lockdown !== "none")
        return [`kernel lockdown ("${c.lockdown}") forbids kexec_load: only kexec_file_load of a signed kernel is allowed`, "use --syscall file with the distro's signed kernel"];
      if (c.uid !== undefined && c.uid !== 0) return [`not root (uid ${c.uid}); CAP_SYS_BOOT is needed`, "run as root"];
      if (c.loadDisabled) return ["kexec is disabled until the next boot (kernel.kexec_load_disabled=1)", "reboot, and load before anything sets kexec_load_disabled"];
      return ["the kernel refused kexec_load (not root, kexec_load_disabled, lockdown, or kexec_load_limit_panic spent)", "check /proc/sys/kernel/kexec_load_disabled and /sys/kernel/security/lockdown"];
    case "EADDRNOTAVAIL":
    case "ENOMEM":
      return [
        c.reserved ? `a segment lies outside the crash reservation ${hex(c.reserved.start)}-${hex(c.reserved.end)} or is not page aligned` : "no memory is reserved for a capture kernel",
        c.reserved ? "this is a bug in the segment layout; report it with `kdump load --dry-run` output" : "boot with crashkernel= (e.g. crashkernel=256M) and reboot",
      ];
    case "EBUSY":
      return ["another kexec load is in progress or the crash image is busy", "wait a moment and retry"];
    case "EINVAL":
      return ["the kernel rejected the segments (overlapping, more than 16, or an architecture it does not run)", "report it with `kdump load --dry-run` output"];
    case "ENOSYS":
      return ["this kernel has no kexec_load (CONFIG_KEXEC is off)", "use --syscall file (kexec_file_load)"];
    case "EFAULT":
      return ["the kernel could not read a segment buffer", "report it as a bug"];
    default:
      return ["loading the capture image failed", "see dmesg for the kernel's reason"];
  }
}

/**
 * Loads segments with kexec_load as the crash image (or for `kexec -e` when crash is false). Throws KexecError.
 * @example kexecLoad(img.entry, img.segments, true)
 */
export function kexecLoad(entry: bigint, segments: LoadSegment[], crash: boolean, context: KexecLoadContext = {}, calls: KexecLoadCalls = libcKexecLoad): void {
  if (segments.length > KEXEC_SEGMENT_MAX) throw kexecLoadError(22, context);
  const r = calls.kexecLoad(entry, segments.length, packSegments(segments), (crash ? KEXEC_LOAD.ON_CRASH : 0) | hostKexecArch());
  if (r.ret !== 0n) throw kexecLoadError(r.errno, context);
}

/**
 * Unloads the crash image (crash) or the staged kexec image with kexec_load(0, 0, NULL, flags): no segments means
 * "unload" (kernel/kexec.c, since 2.6.13). The path for kernels without CONFIG_KEXEC_FILE. ENOENT is not an error.
 * @example kexecLoadUnload(true)
 */
export function kexecLoadUnload(crash: boolean, calls: KexecLoadCalls = libcKexecLoad): void {
  const r = calls.kexecLoad(0n, 0, null, (crash ? KEXEC_LOAD.ON_CRASH : 0) | hostKexecArch());
  const code = errnoName(r.errno);
  if (r.ret !== 0n && code !== "ENOENT")
    throw new KexecError("kexec_load", r.errno, code, {
      detail: `unloading the ${crash ? "capture" : "staged"} kernel`,
      hint: code === "EPERM" ? "run as root; kexec may be disabled (/proc/sys/kernel/kexec_load_disabled) or locked down" : "see dmesg for the kernel's reason",
    });
}
