// Syscall numbers per machine (uname -m) for the calls the toolkit makes. A machine without a table here gets no
// syscall at all: the same number means another call elsewhere (162 is sync on x86_64, setdomainname on arm64).
// The numbers live with each architecture in lib/arch/<name>/arch.ts.
import { machine } from "node:os";
import { allArches } from "../arch/arch.ts";
import { UnsupportedMachineError } from "../errors.ts";

/** The syscalls the toolkit makes. */
export type SyscallName = "kexec_load" | "kexec_file_load" | "reboot" | "mount" | "umount2" | "finit_module" | "sync" | "syncfs" | "fallocate";

/** A machine's numbers for every syscall the toolkit makes. */
export type SyscallTable = Readonly<Record<SyscallName, number>>;

/** The tables, keyed by uname -m. Checked against the installed kernel headers in test/sys/syscall_table.test.ts. */
export const SYSCALL_TABLES: Readonly<Record<string, SyscallTable>> = Object.fromEntries(allArches().map((a) => [a.uname, a.syscalls]));

/** Node's process.arch names for uname -m ones, for hosts whose os.machine() is missing. */
const FROM_PROCESS_ARCH: Record<string, string> = { x64: "x86_64", arm64: "aarch64", ia32: "i686", arm: "armv7l" };

/** This machine as uname -m names it ("x86_64", "aarch64", "s390x", ...). */
export function hostMachine(): string {
  return machine?.() || FROM_PROCESS_ARCH[process.arch] || process.arch;
}

/**
 * The syscall table of `m`, or an UnsupportedMachineError naming it when the toolkit has none.
 * @example syscallTable("aarch64").sync // 81
 */
export function syscallTable(m: string = hostMachine()): SyscallTable {
  const t = SYSCALL_TABLES[m === "arm64" ? "aarch64" : m];
  if (!t)
    throw new UnsupportedMachineError(`refusing to make system calls on ${m}: kdump has no syscall table for this architecture`, {
      hint: `its syscall numbers differ from x86_64's; tables exist for ${Object.keys(SYSCALL_TABLES).join(", ")}`,
    });
  return t;
}
