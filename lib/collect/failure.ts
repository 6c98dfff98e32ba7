// Runs what `kdump collect --failure-action` says when saving fails: the config's failure actions
// (lib/config/actions.ts: reboot, halt, poweroff, shell, dump_to_rootfs) or none. The system calls come in through
// FailureSys so tests (and any host that is not a capture kernel) never reach them.
import { existsSync } from "node:fs";
import { RefusedError, UsageError } from "../errors.ts";
import { libcReboot, type RebootCalls } from "../sys/reboot.ts";
import { FAILURE_ACTIONS, isFailureAction, type FailureAction } from "../config/actions.ts";

/** The --failure-action names: the config's failure actions, or none. */
export const COLLECT_FAILURE_ACTIONS = ["none", ...FAILURE_ACTIONS] as const;
/** One --failure-action. */
export type CollectFailureAction = FailureAction | "none";

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
export function parseFailureAction(s: string): CollectFailureAction {
  if (s === "none" || isFailureAction(s)) return s;
  throw new UsageError(`unknown failure action ${s}`, { hint: `use one of: ${COLLECT_FAILURE_ACTIONS.join(", ")}` });
}

/**
 * Runs `action` after a failed capture. reboot/halt/poweroff refuse outside a capture kernel unless `confirmed`
 * (--yes); they return only when the kernel refused. `log` gets one line saying what happens.
 * @example runFailureAction("reboot", fakeSys, console.error)
 */
export function runFailureAction(action: CollectFailureAction, sys: FailureSys, log: (line: string) => void, confirmed = false): void {
  if (action === "none") return;
  if (action === "dump_to_rootfs") {
    log("kdump: failure action: dump_to_rootfs (the capture init copies the dump to the root filesystem)");
    return;
  }
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
