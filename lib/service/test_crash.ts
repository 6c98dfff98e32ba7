// `kdump test`, as `kdumpctl test`: asks first, records a test id (with the boot and the dump directory) in the
// service state, then crashes the box through `kdump trigger`'s path. After the reboot, `status` reports the outcome.
import { RefusedError } from "../errors.ts";
import { readFlag } from "../load/host.ts";
import { confirm, trigger } from "../load/trigger.ts";
import { serviceConfig } from "./config.ts";
import { realServiceHost, type ServiceHost } from "./host.ts";
import { bootId, updateState } from "./state.ts";

/** A test id: the time and four random characters, e.g. "20261201-0931-x7q2". */
export function newTestId(now: number): string {
  const d = new Date(now * 1000).toISOString();
  return `${d.slice(0, 10).replace(/-/g, "")}-${d.slice(11, 16).replace(":", "")}-${Math.random().toString(36).slice(2, 6)}`;
}

/**
 * Crashes the box to test the capture: refuses when nothing is loaded, asks (or `yes`), records the test id, calls
 * `announce(id)` so it is printed before the crash, then triggers. Returns only on a fake host.
 */
export async function testCrash(o: { yes?: boolean }, announce: (id: string) => void, h: ServiceHost = realServiceHost): Promise<string> {
  if (readFlag(h.sys, "/sys/kernel/kexec_crash_loaded") !== true)
    throw new RefusedError("refusing to test: no capture kernel is loaded, the dump would be lost", { hint: "run `kdump start` first (`kdump status` shows why it is not ready)" });
  const target = serviceConfig(h).target;
  await confirm(`crash ${h.sys.hostname()} now to test the capture (a dump is saved under ${target} and the machine reboots)`, o, h.sys);
  const id = newTestId(h.now());
  updateState(h, (s) => {
    s.lastTest = { id, at: h.now(), bootId: bootId(h), target };
  });
  announce(id);
  await trigger({ yes: true }, h.sys);
  return id;
}
