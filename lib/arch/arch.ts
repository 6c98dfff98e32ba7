// What differs between the architectures kdump supports, behind one interface: one folder per architecture
// (lib/arch/x86_64/, lib/arch/arm64/) defines an Arch in its arch.ts, listed here. Callers look an Arch up by its
// ELF machine, its uname -m or its Debian name, and never compare machine names themselves.
import { UnsupportedMachineError } from "../errors.ts";
import type { Dump } from "../dump/dump.ts";
import type { Vmcoreinfo } from "../kernel/vmcoreinfo.ts";
import type { SyscallTable } from "../sys/syscall_table.ts";
import type { CrashImage, CrashImageInput } from "./x86_64/crash_image.ts";
import type { KexecImage, KexecImageInput } from "./arm64/kexec_image.ts";
import { ARM64 } from "./arm64/arch.ts";
import { X86_64 } from "./x86_64/arch.ts";

/** The architectures kdump knows, by the kernel's name for them. */
export type ArchName = "x86_64" | "arm64";

/** How a QEMU guest of this architecture boots in the lab (TCG). */
export interface QemuMachine {
  /** The qemu binary, e.g. "qemu-system-x86_64". */
  binary: string;
  /** The Debian package that installs it. */
  package: string;
  /** Machine and CPU arguments; `la57` asks for 5-level paging where the architecture has it. */
  machineArgs(o: { la57?: boolean }): string[];
  /** The serial console device on the kernel command line ("ttyS0", "ttyAMA0"). */
  console: string;
  /** A virtio disk for `file` as drive number `i` (PCI on both machines). */
  diskArgs(file: string, i: number): string[];
}

/** Kernel virtual → physical for one dump. */
export interface Translator {
  /** The physical address of `vaddr`; FaultError when it is not mapped or its tables are not in the dump. */
  translate(vaddr: bigint): bigint;
  /**
   * The physical address of `vaddr` and how many bytes from it the same mapping covers contiguously (to the end of
   * its page, or of its large page); absent where a walker does not track large pages (then translate page by page).
   */
  mappedRun?(vaddr: bigint): MappedRun;
}

/** What a Translator's mappedRun() returns. */
export interface MappedRun {
  /** Physical address of the virtual address asked for. */
  paddr: bigint;
  /** Bytes from it that follow it in physical memory too, within one mapping. */
  bytes: number;
}

/** One architecture. */
export interface Arch {
  /** The kernel's name ("x86_64", "arm64"). */
  name: ArchName;
  /** uname -m ("x86_64", "aarch64"). */
  uname: string;
  /** Debian's architecture name ("amd64", "arm64"). */
  debian: string;
  /** ELF e_machine of its vmlinux, modules and /proc/vmcore (EM_X86_64 62, EM_AARCH64 183). */
  elfMachine: number;
  /** Its numbers for the syscalls the toolkit makes. */
  syscalls: SyscallTable;
  /** kexec_load's KEXEC_ARCH_* flag (the ELF machine in bits 16–31). */
  kexecArch: number;
  /** The name of its kdump-utils crashkernel= table in lib/boot/sizing.ts. */
  crashkernelTable: string;
  /** The general registers of an NT_PRSTATUS note's pr_reg, in order (u64 each). */
  prstatusRegs: readonly string[];
  /** Names of the program counter, stack pointer and frame pointer among prstatusRegs. */
  pc: string;
  sp: string;
  fp: string;
  /** The page-table walk of a dump of this architecture, set up from its VMCOREINFO. */
  pageTable(dump: Dump, info: Vmcoreinfo): Translator;
  /** The kdump-compressed sub-header's phys_base, as makedumpfile fills it (x86_64 phys_base, arm64 PHYS_OFFSET). */
  kdumpPhysBase(info: Vmcoreinfo): bigint;
  /** The lowest virtual address of the kernel image mapping: /proc/kcore's text segment lies above, the direct map below. */
  kimageStart: bigint;
  /**
   * Where kexec_file_load takes a bare image only (arm64): the image inside a kernel file (itself when it is one) and
   * the bytes it occupies running; RangeError when the file is not a kernel of this architecture. Absent: the file
   * is loaded as it is (x86_64's bzImage).
   */
  kexecFileImage?(file: Uint8Array): { image: Uint8Array; memBytes: number };
  /**
   * The load syscall when neither `--syscall` nor KEXEC_ARGS says: "file" (x86_64), or "auto" where the distro's
   * kernels often lack CONFIG_KEXEC_FILE (arm64: Debian's 6.1, 6.12 and 7.x), so kexec_load follows ENOSYS.
   */
  defaultSyscall: "file" | "auto";
  /** kexec_load's layout of a capture kernel (segments, entry) from the kernel file and the running machine. */
  planCrashImage(i: CrashImageInput): CrashImage;
  /**
   * kexec_load's layout of a kernel staged for `kdump exec` (normal kexec), where the architecture has one (arm64,
   * whose Debian kernels have no kexec_file_load). Absent: staging needs kexec_file_load.
   */
  planKexecImage?(i: KexecImageInput): KexecImage;
  /** The lab's QEMU machine. */
  qemu: QemuMachine;
}

/** The architectures, one per folder. */
const ARCHES: readonly Arch[] = [X86_64, ARM64];

/** Every registered architecture. */
export function allArches(): readonly Arch[] {
  return ARCHES;
}

function unsupported(what: string): never {
  throw new UnsupportedMachineError(`kdump does not support ${what}`, { hint: `it knows ${ARCHES.map((a) => a.name).join(" and ")}` });
}

/**
 * The architecture of an ELF machine number, or undefined.
 * @example archOfElfMachine(183)?.name // "arm64"
 */
export function archOfElfMachine(m: number): Arch | undefined {
  return ARCHES.find((a) => a.elfMachine === m);
}

/**
 * The architecture named by the kernel ("arm64"), uname -m ("aarch64") or Debian ("amd64"); UnsupportedMachineError
 * for others.
 * @example archNamed("aarch64").name // "arm64"
 */
export function archNamed(name: string): Arch {
  return ARCHES.find((a) => a.name === name || a.uname === name || a.debian === name) ?? unsupported(`the architecture ${name}`);
}

/**
 * The architecture of a dump: its ELF machine or its kdump header's utsname, x86_64 when the file does not say.
 * @example archOfDump(openDump("vmcore")).name // "arm64"
 */
export function archOfDump(dump: { machine?: string }): Arch {
  return archNamed(dump.machine ?? "x86_64");
}
