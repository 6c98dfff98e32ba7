// arm64 (AArch64): the values the rest of the toolkit asks lib/arch for. Its page tables, registers and
// frame-pointer unwinder, Image reading and kexec_load layout live beside this file.
import type { Arch } from "../arch.ts";
import { planArm64CrashImage } from "./crash_image.ts";
import { arm64Image, parseArm64Image } from "./image.ts";
import { planArm64KexecImage } from "./kexec_image.ts";
import { Arm64PageTable } from "./pagetable.ts";

/** The 31 general registers x0–x30, then sp, pc and pstate: struct user_pt_regs (arch/arm64/include/uapi/asm/ptrace.h). */
const USER_PT_REGS = [...Array.from({ length: 31 }, (_, i) => `x${i}`), "sp", "pc", "pstate"];

/** arm64 (Debian arm64, uname aarch64). */
export const ARM64: Arch = {
  name: "arm64",
  uname: "aarch64",
  debian: "arm64",
  elfMachine: 183, // EM_AARCH64
  kexecArch: 183 << 16, // KEXEC_ARCH_ARM64
  // include/uapi/asm-generic/unistd.h
  syscalls: { kexec_load: 104, kexec_file_load: 294, reboot: 142, mount: 40, umount2: 39, finit_module: 273, sync: 81, syncfs: 267, fallocate: 47 },
  crashkernelTable: "kdump-utils-aarch64",
  prstatusRegs: USER_PT_REGS,
  pc: "pc",
  sp: "sp",
  fp: "x29",
  pageTable(dump, info) {
    // TTBR1's VA size is 64 - T1SZ (5.13+ export TCR_EL1_T1SZ); a 52-bit build on a CPU without LPA2 runs 48-bit
    const t1sz = info.numbers.get("TCR_EL1_T1SZ");
    const vaBits = t1sz !== undefined ? 64 - Number(t1sz) : Number(info.number("VA_BITS"));
    const pgd = info.symbol("swapper_pg_dir") - info.number("kimage_voffset");
    return new Arm64PageTable(dump, { pgd, vaBits, pageSize: info.pageSize });
  },
  kdumpPhysBase: (info) => info.numbers.get("PHYS_OFFSET") ?? 0n,
  kimageStart: 0xffff800000000000n, // _PAGE_END(48): modules, vmalloc and the kernel image above; the linear map below
  planCrashImage: planArm64CrashImage,
  planKexecImage: planArm64KexecImage,
  defaultSyscall: "auto", // Debian's arm64 kernels are built without CONFIG_KEXEC_FILE
  kexecFileImage(file) {
    const image = arm64Image(file);
    return { image, memBytes: Math.max(Number(parseArm64Image(image)!.imageSize), image.length) };
  },
  qemu: {
    binary: "qemu-system-aarch64",
    package: "qemu-system-arm",
    // virt's GIC and a CPU with every feature TCG has (LPA2, PAC, BTI; MTE off: the kernel's choice) but SVE and SME.
    // With SVE on, Bun 1.4.5's aarch64 build dies under this host's QEMU 7.2 TCG: a `brk` trap (or an illegal
    // instruction, a segfault, a bogus "Maximum call stack size exceeded") inside its JIT pool. Measured 2026-12-01 in
    // 1-CPU 7.2 guests, `kdump collect` of a 308 MB arm64 dump, runs that died: -cpu max: full JIT 3 of 5, baseline JIT
    // only 4 of 5 (and 5 of 6 with pauth=off, 2 of 6 with sme=off), interpreter only 0 of 5; -cpu max,sve=off,sme=off:
    // baseline 0 of 6, full JIT 0 of 6; cortex-a72: 0 of 10. So the lab turns SVE off, and Bun runs its full JIT.
    machineArgs: () => ["-machine", "virt", "-cpu", "max,sve=off,sme=off"],
    console: "ttyAMA0",
    diskArgs: (file, i) => ["-drive", `file=${file},format=raw,if=none,id=d${i},cache=unsafe`, "-device", `virtio-blk-pci,drive=d${i}`],
  },
};
