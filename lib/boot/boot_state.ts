// Configured versus active: what the boot loader will pass at the next boot against what this kernel booted with
// ("reboot needed"), and whether the reservation is larger than a rehearsal showed is needed (shrinkable now
// through /sys/kernel/kexec_crash_size, which any kernel with kexec allows while no capture kernel is loaded).
import { configuredCrashkernel } from "./bootloader.ts";
import { crashkernelWords, formatCrashkernel, formatSize } from "./crashkernel.ts";
import { boxIdentity, findRehearsal } from "./setup.ts";
import { readRehearsal, rehearsalApplies } from "./sizing.ts";

/** The boot-configuration part of `kdump status`. */
export interface BootState {
  /** crashkernel= values the boot loader passes at the next boot, or null when it cannot be read. */
  configured: string[] | null;
  /** "reboot needed: …" when that differs from /proc/cmdline, else null. */
  pending: string | null;
  /** A smaller size a rehearsal showed is enough and the command that frees the rest now, else null. */
  shrink: { to: number; command: string } | null;
}

/**
 * Compares the boot loader's crashkernel= with /proc/cmdline's and the reservation with the rehearsal's need (only a
 * rehearsal of this kernel release and RAM whose capture the collector saved: see rehearsalApplies()).
 */
export function bootState(root: string, cmdline: string, crashSize: number | null, rehearsal?: string | null, box = boxIdentity(root)): BootState {
  rehearsal ??= findRehearsal(box.release);
  let configured: string[] | null = null;
  try {
    configured = configuredCrashkernel(root).map((w) => formatCrashkernel(w.arg));
  } catch {
    configured = null; // no known boot loader, or unreadable: status still reports the rest
  }
  let active: string[];
  try {
    active = crashkernelWords(cmdline).map((w) => formatCrashkernel(w.arg));
  } catch {
    active = cmdline.split(/\s+/).filter((w) => w.startsWith("crashkernel=")).map((w) => w.slice(12));
  }
  let pending: string | null = null;
  if (configured !== null && configured.join(" ") !== active.join(" ")) {
    const next = configured.length ? configured.map((v) => `crashkernel=${v}`).join(" ") : "no crashkernel=";
    const now = active.length ? active.map((v) => `crashkernel=${v}`).join(" ") : "none";
    pending = `reboot needed: the boot loader passes ${next}; this kernel booted with ${now}`;
  }
  let shrink: BootState["shrink"] = null;
  let measured = null;
  try {
    measured = rehearsal ? readRehearsal(rehearsal) : null;
  } catch {
    measured = null;
  }
  if (measured && crashSize && rehearsalApplies(measured, box).applies) {
    const to = Math.ceil((measured.minimum * 1.25) / 2 ** 24) * 2 ** 24;
    if (to < crashSize) shrink = { to, command: `kdump shrink ${formatSize(to)} --yes   (or: echo ${to} > /sys/kernel/kexec_crash_size)` };
  }
  return { configured, pending, shrink };
}
