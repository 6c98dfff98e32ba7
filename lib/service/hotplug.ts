// CPU and memory hotplug: the capture kernel's ELF core header lists the CPUs and the RAM, so it goes stale when
// they change. Kernels with CONFIG_CRASH_HOTPLUG (6.5+) update it themselves for an image loaded with
// kexec_file_load, and say so in /sys/devices/system/{cpu,memory}/crash_hotplug; elsewhere the udev rule runs
// `kdump hotplug`, which re-arms through the unit.
import { readFlag } from "../load/host.ts";
import type { ServiceHost } from "./host.ts";
import { UNIT_NAME } from "./unit.ts";

/** Who keeps the capture image's CPU and memory map current. */
export interface HotplugHandling {
  /** True when the kernel updates the loaded image itself on CPU and memory hotplug. */
  byKernel: boolean;
  /** One line: what was read. */
  detail: string;
}

/**
 * How hotplug is handled on this box, from the kernel's own files.
 * @example hotplugHandling(realServiceHost).byKernel  // true on 6.12 with an image loaded by kexec_file_load
 */
export function hotplugHandling(h: ServiceHost): HotplugHandling {
  const cpu = h.sys.read("/sys/devices/system/cpu/crash_hotplug")?.trim() ?? null;
  const mem = h.sys.read("/sys/devices/system/memory/crash_hotplug")?.trim() ?? null;
  const size = h.sys.read("/sys/kernel/crash_elfcorehdr_size")?.trim() ?? null;
  if (cpu === "1" && (mem === null || mem === "1"))
    return { byKernel: true, detail: `the kernel updates the capture image itself (crash_hotplug: cpu ${cpu}${mem === null ? "" : `, memory ${mem}`}${size ? `; elfcorehdr ${size} bytes` : ""})` };
  if (cpu === null && mem === null) return { byKernel: false, detail: "this kernel has no crash_hotplug (before 6.5): the udev rule re-arms on CPU or memory hotplug" };
  return { byKernel: false, detail: `the kernel does not update the loaded image (crash_hotplug: cpu ${cpu ?? "-"}, memory ${mem ?? "-"}): the udev rule re-arms on CPU or memory hotplug` };
}

/** What `kdump hotplug` did. */
export interface HotplugResult {
  action: "none" | "re-arm";
  reason: string;
}

/**
 * `kdump hotplug` (run by the udev rule): re-arms through the unit unless nothing is loaded or the kernel keeps the
 * image current itself. A reload, not a restart: a restart's stop unloads, and a start that then met a bad config
 * left the box unarmed (seen on 6.1, where boot-time coldplug events restarted the unit). Reload loads again only
 * when the memory and CPU map changed. Returns at once: systemctl --no-block queues it, as udev requires.
 */
export function onHotplug(h: ServiceHost): HotplugResult {
  if (readFlag(h.sys, "/sys/kernel/kexec_crash_loaded") !== true) return { action: "none", reason: "no capture kernel is loaded" };
  const k = hotplugHandling(h);
  if (k.byKernel) return { action: "none", reason: k.detail };
  const r = h.run(["systemctl", "--no-block", "reload", UNIT_NAME]);
  return { action: "re-arm", reason: r.code === 0 ? `queued a reload of ${UNIT_NAME} (loads again if the memory or CPU map changed)` : `systemctl reload failed (${r.code}): ${r.output}` };
}
