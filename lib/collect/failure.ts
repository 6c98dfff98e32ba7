// What the capture does when saving fails: reboot, halt, poweroff, a shell on the console, or nothing. The
// system calls come in through CaptureSys so tests (and any host that is not a capture kernel) never reach them.
import { existsSync } from "node:fs";
import { RefusedError, UsageError } from "../errors.ts";
import { libcReboot, type RebootCalls } from "../sys/reboot.ts";

/** The --failure-action names. */
export const FAILURE_ACTIONS = ["none", "reboot", "halt", "poweroff", "shell"] as const;
/** One failure action. */
export type FailureAction = (typeof FAILURE_ACTIONS)[number];

/** reboot(2) commands (include/uapi/linux/reboot.h). */
export const REBOOT_CMD = { restart: 0x01234567, halt: 0xcdef0123, poweroff: 0x4321fedc } as const;

/** The host calls a failure action makes. */
export interface FailureSys {
  /** sync(2) and reboot(2). */
  reboot: RebootCalls;
  /** Runs an interactive shell on the console and waits for it. */
  shell(): void;
  /** True when this is a capture kernel (it has /proc/vmcore): only there may the machine be rebooted. */
  inCaptureKernel(): boolean;
}

/** This machine. */
export const realFailureSys: FailureSys = {
  reboot: libcReboot,
  shell: () => void Bun.spawnSync(["/bin/sh", "-i"], { stdio: ["inherit", "inherit", "inherit"] }),
  inCaptureKernel: () => existsSync("/proc/vmcore"),
};

/** Checks an action name. */
export function parseFailureAction(s: string): FailureAction {
  if ((FAILURE_ACTIONS as readonly string[]).includes(s)) return s as FailureAction;
  throw new UsageError(`unknown failure action ${s}`, { hint: `use one of: ${FAILURE_ACTIONS.join(", ")}` });
}

/**
 * Runs `action` after a failed capture. reboot/halt/poweroff refuse outside a capture kernel unless `confirmed`
 * (--yes); they return only when the kernel refused. `log` gets one line saying what happens.
 * @example runFailureAction("reboot", fakeSys, console.error)
 */
export function runFailureAction(action: FailureAction, sys: FailureSys, log: (line: string) => void, confirmed = false): void {
  if (action === "none") return;
  if (action === "shell") {
    log("kdump: failure action: starting a shell; exit it to continue");
    sys.shell();
    return;
  }
  if (!sys.inCaptureKernel() && !confirmed)
    throw new RefusedError(`failure action ${action} refused: this is not a capture kernel (no /proc/vmcore)`, { hint: "pass --yes to really do it here" });
  log(`kdump: failure action: ${action}`);
  sys.reboot.sync();
  const r = sys.reboot.reboot(action === "reboot" ? REBOOT_CMD.restart : action === "halt" ? REBOOT_CMD.halt : REBOOT_CMD.poweroff);
  log(`kdump: ${action} failed (errno ${r.errno})`);
}
