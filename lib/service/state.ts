// What the service remembers between runs and boots, in /var/lib/kdump/service.json: who armed the box and with
// which inputs, the capture images prepared for installed kernels, and the last `kdump test`.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { ServiceHost } from "./host.ts";

/** The state file. */
export const STATE_FILE = "/var/lib/kdump/service.json";

/** One arming of the box (a load by `kdump start`). */
export interface Armed {
  /** "service": by the unit at boot (or a kernel/hotplug hook); "hand": by `kdump start` from a shell. */
  by: "service" | "hand";
  /** /proc/sys/kernel/random/boot_id of the boot it was loaded in: a record of another boot is history. */
  bootId: string;
  /** When (epoch seconds). */
  at: number;
  /** The kernel release loaded. */
  release: string;
  /** The capture initramfs loaded. */
  initrd: string;
  /** Fingerprint of the capture image's inputs (lib/service/inputs.ts) at load time. */
  inputs: string;
  /** Fingerprint of the memory and CPU map at load time (memoryLayout()): a hotplug that changes it re-loads. */
  layout?: string;
}

/** A capture image built for an installed kernel by the kernel hooks (or `kdump rebuild --release`). */
export interface Prepared {
  /** The capture initramfs. */
  initrd: string;
  /** When (epoch seconds). */
  at: number;
  /** Fingerprint of its inputs (lib/service/inputs.ts): `start` loads it as it is while they match. */
  inputs?: string;
}

/** The last `kdump test`. */
export interface TestRecord {
  /** The test id (printed by `kdump test`, shown by `kdump status`). */
  id: string;
  /** When the crash was triggered (epoch seconds). */
  at: number;
  /** The boot it crashed. */
  bootId: string;
  /** The dump directory the capture writes under. */
  target: string;
}

/** The whole file. */
export interface ServiceState {
  armed: Armed | null;
  prepared: Record<string, Prepared>;
  lastTest: TestRecord | null;
}

/** The state of the box (empty when the file is absent or unreadable). */
export function readState(h: ServiceHost): ServiceState {
  const p = join(h.root || "/", STATE_FILE);
  const empty: ServiceState = { armed: null, prepared: {}, lastTest: null };
  if (!existsSync(p)) return empty;
  try {
    return { ...empty, ...(JSON.parse(readFileSync(p, "utf8")) as Partial<ServiceState>) };
  } catch {
    return empty;
  }
}

/** Changes the state with `edit` and writes it atomically (0600: it names dump paths). */
export function updateState(h: ServiceHost, edit: (s: ServiceState) => void): ServiceState {
  const s = readState(h);
  edit(s);
  const p = join(h.root || "/", STATE_FILE);
  mkdirSync(dirname(p), { recursive: true, mode: 0o700 });
  writeFileSync(`${p}.tmp`, JSON.stringify(s, null, 2) + "\n", { mode: 0o600 });
  renameSync(`${p}.tmp`, p);
  return s;
}

/** This boot's id, or "" when unknown. */
export function bootId(h: ServiceHost): string {
  return h.sys.read("/proc/sys/kernel/random/boot_id")?.trim() ?? "";
}
