// The service's part of `kdump status`: the unit, who armed the box (the service or a person), whether the config
// is valid, whether the loaded image is stale, the last crash dump, the last test's outcome, the capture images
// prepared for installed kernels, who handles hotplug, and other kdump services on the box.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { errorLine } from "../errors.ts";
import { collectorPaths } from "../load/load.ts";
import { readFlag } from "../load/host.ts";
import { otherServices, type OtherService } from "./coexist.ts";
import { serviceConfig } from "./config.ts";
import { hasSystemd } from "./enable.ts";
import { realServiceHost, type ServiceHost } from "./host.ts";
import { hotplugHandling, type HotplugHandling } from "./hotplug.ts";
import { captureInputs } from "./inputs.ts";
import { lastCrash, testOutcome, type TestOutcome } from "./last_crash.ts";
import { bootId, readState } from "./state.ts";
import { UNIT_NAME, UNIT_PATH } from "./unit.ts";

/** The service's status. */
export interface ServiceStatus {
  /** Our unit: installed, and systemctl's is-enabled / is-active answers (null without systemd). */
  unit: { installed: boolean; enabled: string | null; active: string | null };
  /** Who loaded the capture kernel in this boot: "service", "hand", or null when none is loaded. */
  armedBy: "service" | "hand" | null;
  /** The config: valid, or the error with file and line ("config error"). */
  config: { valid: boolean; error: string | null; files: string[] };
  /** True when an input of the loaded image changed since it was loaded; null when unknown or nothing loaded. */
  stale: boolean | null;
  /** The newest complete dump: its path and time (epoch seconds). */
  lastCrash: { path: string; at: number } | null;
  /** The last `kdump test` and its outcome. */
  lastTest: TestOutcome | null;
  /** Capture images prepared for installed kernels (the kernel hooks), and whether the file is there. */
  prepared: { release: string; initrd: string; at: number; present: boolean }[];
  /** Who keeps the image current on CPU and memory hotplug. */
  hotplug: HotplugHandling;
  /** Other kdump services installed (enabled or not). */
  others: OtherService[];
}

/**
 * Reads the service's status. Pure reads (systemctl is-enabled/is-active aside).
 * @example readServiceStatus().armedBy  // "service"
 */
export function readServiceStatus(h: ServiceHost = realServiceHost): ServiceStatus {
  const state = readState(h);
  const systemd = hasSystemd(h);
  const ask = (verb: string) => (systemd ? h.run(["systemctl", verb, UNIT_NAME]).output.split("\n")[0] || null : null);
  const loaded = readFlag(h.sys, "/sys/kernel/kexec_crash_loaded") === true;
  const mine = loaded && state.armed && state.armed.bootId === bootId(h) ? state.armed : null;
  let config: ServiceStatus["config"];
  let target = "/var/crash";
  let stale: boolean | null = null;
  try {
    const c = serviceConfig(h);
    target = c.target;
    config = { valid: true, error: null, files: c.files };
    if (mine) stale = captureInputs(h, mine.release, c.files, c.target, collectorPaths()) !== mine.inputs;
  } catch (e) {
    config = { valid: false, error: errorLine(e), files: [] };
  }
  const crash = lastCrash(h, state.lastTest?.target ?? target);
  return {
    unit: { installed: existsSync(join(h.root || "/", UNIT_PATH)), enabled: ask("is-enabled"), active: ask("is-active") },
    armedBy: loaded ? (mine?.by ?? "hand") : null,
    config,
    stale,
    lastCrash: crash && { path: crash.dump!, at: crash.at },
    lastTest: state.lastTest && testOutcome(h, state.lastTest),
    prepared: Object.entries(state.prepared).map(([release, p]) => ({ release, initrd: p.initrd, at: p.at, present: existsSync(join(h.root || "/", p.initrd)) })),
    hotplug: hotplugHandling(h),
    others: otherServices(h),
  };
}

/** The service's lines of `kdump status`. */
export function formatServiceStatus(s: ServiceStatus): string {
  const when = (t: number) => new Date(t * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC";
  const lines = [
    `service:            ${s.unit.installed ? `${UNIT_NAME} ${s.unit.enabled ?? "?"}, ${s.unit.active ?? "?"}` : "not enabled (`kdump enable` arms the box at every boot)"}`,
    `armed by:           ${s.armedBy === null ? "nobody (nothing loaded)" : s.armedBy === "service" ? "the service" : "hand (loaded outside the service)"}`,
    `config:             ${s.config.valid ? `valid (${s.config.files.length ? s.config.files.join(", ") : "defaults"})` : `config error: ${s.config.error}`}`,
    `loaded image:       ${s.stale === null ? "-" : s.stale ? "stale: an input changed since it was loaded: run `kdump restart`" : "current"}`,
    `last crash:         ${s.lastCrash ? `${s.lastCrash.path} (${when(s.lastCrash.at)})` : "none saved"}`,
    `last test:          ${s.lastTest ? `${s.lastTest.id}: ${s.lastTest.outcome}${s.lastTest.dump ? ` (${s.lastTest.dump})` : ""}${s.lastTest.reason ? `: ${s.lastTest.reason}` : ""}` : "none"}`,
    ...s.prepared.map((p) => `prepared:           ${p.release}: ${p.initrd}${p.present ? "" : " (missing)"}`),
    `hotplug:            ${s.hotplug.detail}`,
    ...s.others.map((o) => `other service:      ${o.package} (${o.unit}) ${o.enabledBy ? `ENABLED (${o.enabledBy}): disable it or \`kdump enable --takeover\`` : "installed, not enabled"}`),
  ];
  return lines.join("\n");
}
