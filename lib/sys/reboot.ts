// reboot(2) with LINUX_REBOOT_CMD_KEXEC: jump into the kernel staged by kexec_file_load (no ON_CRASH), after sync(2).
// Any Linux with CONFIG_KEXEC_CORE. Callers confirm first (lib/load/trigger.ts); nothing here asks.
import { SyscallError } from "../errors.ts";
import { errnoName, syscall, type SyscallResult } from "./libc.ts";

/** reboot(2) magic numbers and commands (include/uapi/linux/reboot.h). */
export const LINUX_REBOOT = {
  MAGIC1: 0xfee1dead,
  MAGIC2: 672274793,
  /** Start the kernel staged with kexec (kexec -e). */
  CMD_KEXEC: 0x45584543,
} as const;

/** The system calls a kexec reboot needs; `libcReboot` is the real one, tests pass a fake. */
export interface RebootCalls {
  /** sync(2): write dirty data out before leaving this kernel. */
  sync(): void;
  /** reboot(2) with the two magic numbers and `cmd`; returns only on failure. */
  reboot(cmd: number): SyscallResult;
}

/** The real sync and reboot through libc's syscall(). */
export const libcReboot: RebootCalls = {
  sync: () => void syscall("sync"),
  reboot: (cmd) => syscall("reboot", LINUX_REBOOT.MAGIC1, LINUX_REBOOT.MAGIC2, cmd, null),
};

/**
 * Syncs, then reboots into the staged kexec kernel. Returns only by throwing: EINVAL when nothing is staged,
 * EPERM without CAP_SYS_BOOT.
 * @example rebootKexec(fakeCalls) // never call it with the real calls outside a guest
 */
export function rebootKexec(calls: RebootCalls = libcReboot): never {
  calls.sync();
  const r = calls.reboot(LINUX_REBOOT.CMD_KEXEC);
  const code = errnoName(r.errno);
  throw new SyscallError("reboot(LINUX_REBOOT_CMD_KEXEC)", r.errno, code, {
    detail: code === "EINVAL" ? "no kernel is staged" : code === "EPERM" ? "not permitted" : "the kernel refused",
    hint: code === "EINVAL" ? "stage one with `kdump load --kexec`" : code === "EPERM" ? "run as root (CAP_SYS_BOOT)" : "see dmesg",
  });
}
