// The one vocabulary of what the capture does when saving fails (failure_action, kdump.conf's `default`,
// kdump-tools' KDUMP_FAIL_CMD) and after it saved or skipped the dump (final_action). Used by the config readers,
// `kdump collect --failure-action` and the capture init.

/** What the capture does when saving fails: kdump.conf(5)'s failure_action values. */
export const FAILURE_ACTIONS = ["reboot", "halt", "poweroff", "shell", "dump_to_rootfs"] as const;
/** One failure action. */
export type FailureAction = (typeof FAILURE_ACTIONS)[number];

/** What the capture does at the end: kdump.conf(5)'s final_action values. */
export const FINAL_ACTIONS = ["reboot", "halt", "poweroff"] as const;
/** One final action. */
export type FinalAction = (typeof FINAL_ACTIONS)[number];

/** True when `s` names a failure action. */
export function isFailureAction(s: string): s is FailureAction {
  return (FAILURE_ACTIONS as readonly string[]).includes(s);
}

/** True when `s` names a final action. */
export function isFinalAction(s: string): s is FinalAction {
  return (FINAL_ACTIONS as readonly string[]).includes(s);
}
