// x86_64: the values the rest of the toolkit asks lib/arch for. Its page tables, ORC unwinder, registers, bzImage
// loading and purgatory live beside this file.
import { MissingDataError } from "../../errors.ts";
import type { Arch } from "../arch.ts";
import { planCrashImage } from "./crash_image.ts";
import { PageTable, START_KERNEL_MAP } from "./pagetable.ts";

/** x86_64 (Debian amd64). */
export const X86_64: Arch = {
  name: "x86_64",
  uname: "x86_64",
  debian: "amd64",
  elfMachine: 62, // EM_X86_64
  kexecArch: 62 << 16, // KEXEC_ARCH_X86_64
  // arch/x86/entry/syscalls/syscall_64.tbl
  syscalls: { kexec_load: 246, kexec_file_load: 320, reboot: 169, mount: 165, umount2: 166, finit_module: 313, sync: 162, syncfs: 306, fallocate: 285 },
  crashkernelTable: "kdump-utils-x86_64",
  // struct user_regs_struct (arch/x86/include/asm/user_64.h)
  prstatusRegs: ["r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs"],
  pc: "rip",
  sp: "rsp",
  fp: "rbp",
  pageTable(dump, info) {
    // phys_base from VMCOREINFO, else from the kdump sub-header (a KdumpDump's header)
    const physBase = info.numbers.get("phys_base") ?? (dump as { header?: { physBase?: bigint } }).header?.physBase;
    if (physBase === undefined) throw new MissingDataError("VMCOREINFO has no NUMBER(phys_base)", { hint: "this is not an x86_64 kernel dump" });
    const pgd = info.symbol("init_top_pgt");
    return new PageTable(dump, { physBase, pgd: pgd - START_KERNEL_MAP + physBase, levels: info.numbers.get("pgtable_l5_enabled") === 1n ? 5 : 4 });
  },
  kdumpPhysBase: (info) => info.numbers.get("phys_base") ?? 0n,
  kimageStart: START_KERNEL_MAP,
  defaultSyscall: "file",
  planCrashImage,
  qemu: {
    binary: "qemu-system-x86_64",
    package: "qemu-system-x86",
    machineArgs: (o) => ["-cpu", o.la57 === false ? "max,la57=off" : "max"],
    console: "ttyS0",
    diskArgs: (file) => ["-drive", `file=${file},format=raw,if=virtio,cache=unsafe`],
  },
};
