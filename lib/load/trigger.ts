// Leaving the running kernel on purpose: `kdump trigger` crashes it with sysrq 'c' so the loaded capture kernel
// saves a dump; `kdump exec` reboots into the kernel staged with `kdump load --kexec`. Both refuse on a machine with no
// syscall table, check that something is loaded and ask for confirmation (--yes, or typing the host name) first. Any kernel with sysrq and kexec.
import { RefusedError } from "../errors.ts";
import { rebootKexec } from "../sys/reboot.ts";
import { readFlag, realHost, requireSyscalls, type HostSys } from "./host.ts";

/** How the user confirmed. */
export interface ConfirmOptions {
  /** --yes: confirmed on the command line. */
  yes?: boolean;
}

/**
 * Resolves when the user confirmed `action` (--yes, or the host name typed at the prompt); throws RefusedError otherwise.
 * @example await confirm("crash this machine", { yes: true }, host)
 */
export async function confirm(action: string, o: ConfirmOptions, sys: HostSys = realHost): Promise<void> {
  if (o.yes) return;
  const host = sys.hostname();
  const answer = await sys.prompt(`This will ${action}. Type the host name (${host}) to go on: `);
  if (answer === null) throw new RefusedError(`refusing to ${action} without confirmation`, { hint: "there is no terminal to ask on: pass --yes" });
  if (answer.trim() !== host) throw new RefusedError(`refusing to ${action}: "${answer.trim()}" is not the host name ${host}`, { hint: "type the host name exactly, or pass --yes" });
}

/**
 * Crashes the running kernel with sysrq 'c' after checking that a capture kernel is loaded and asking. Enables
 * sysrq first (/proc/sys/kernel/sysrq = 1). Returns only if the crash did not happen (a fake host).
 */
export async function trigger(o: ConfirmOptions = {}, sys: HostSys = realHost): Promise<void> {
  requireSyscalls(sys);
  const loaded = readFlag(sys, "/sys/kernel/kexec_crash_loaded");
  if (loaded !== true)
    throw new RefusedError(
      loaded === null ? "refusing to crash: this kernel has no kexec support (/sys/kernel/kexec_crash_loaded is missing)" : "refusing to crash: no capture kernel is loaded, the dump would be lost",
      { hint: loaded === null ? "a kernel with CONFIG_KEXEC_CORE is needed" : "run `kdump load` first (`kdump status` shows why it is not ready)" },
    );
  await confirm(`crash ${sys.hostname()} now (a capture kernel will save a dump and the machine reboots)`, o, sys);
  sys.write("/proc/sys/kernel/sysrq", "1");
  sys.reboot.sync();
  sys.write("/proc/sysrq-trigger", "c");
}

/**
 * Reboots into the kernel staged with `kdump load --kexec` (reboot(LINUX_REBOOT_CMD_KEXEC) after sync), skipping
 * the firmware; checks /sys/kernel/kexec_loaded and asks first. Returns only by throwing.
 */
export async function execStaged(o: ConfirmOptions = {}, sys: HostSys = realHost): Promise<never> {
  requireSyscalls(sys);
  if (readFlag(sys, "/sys/kernel/kexec_loaded") !== true)
    throw new RefusedError("refusing to kexec: no kernel is staged", { hint: "stage one with `kdump load --kexec`" });
  await confirm(`reboot ${sys.hostname()} into the staged kernel now (running programs are killed without shutdown)`, o, sys);
  return rebootKexec(sys.reboot);
}
