// Arming the box, the verbs kdumpctl and kdump-config users know: `start` (build the capture initramfs only when an
// input changed, then load), `stop`, `restart`, `reload` and `rebuild` (also for another installed kernel, as the
// kernel hooks do). Everything that can fail (prerequisites, config, plan) is checked before the kernel is touched:
// a failed kexec_file_load of a crash image frees the one loaded before it, so a typo must never get that far.
// The boot path is short: an image recorded with the same input fingerprint (prepared by `enable` or a kernel hook,
// or loaded in an earlier boot) is loaded as it is, with no module walk and no rebuild.
import { spaceWarning } from "../collect/forecast.ts";
import { saveRawDump } from "../collect/raw_save.ts";
import { hostname } from "node:os";
import { existsSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { errorLine } from "../errors.ts";
import { collectorPaths, loadPlan, planLoad, unload, type LoadPlan } from "../load/load.ts";
import { readFlag } from "../load/host.ts";
import { formatOrigin } from "../config/origin.ts";
import { serviceConfig, type ServiceConfig } from "./config.ts";
import { realServiceHost, type ServiceHost } from "./host.ts";
import { captureInputs, memoryLayout } from "./inputs.ts";
import { requirePrerequisites } from "./prerequisites.ts";
import { bootId, readState, updateState, type ServiceState } from "./state.ts";

/** Options of the arming verbs. */
export interface ArmOptions {
  /** Who asks: the unit and the hooks pass "service"; a shell is "hand" (the default). */
  by?: "service" | "hand";
  /** Where capture images are kept (default /var/lib/kdump). */
  cacheDir?: string;
}

/** What start, restart and reload did. */
export interface ArmResult {
  /**
   * "loaded"; "unchanged" when the same inputs were already loaded in this boot; "disabled" when USE_KDUMP=0 in
   * /etc/default/kdump-tools says not to arm (nothing loaded or unloaded, as kdump-tools' own start does).
   */
  action: "loaded" | "unchanged" | "disabled";
  /** The kernel release armed. */
  release: string;
  /** The capture initramfs. */
  initrd: string;
  /** True when the initramfs was built now, false when a cached one was reused. */
  built: boolean;
  /** True when a recorded image with the same input fingerprint was loaded as it is (no module walk, no build). */
  reused?: boolean;
  /** Why nothing was loaded ("disabled"), with the file and line that said so. */
  reason?: string;
  /** The dump directory. */
  target: string;
  /** The config files read. */
  configFiles: string[];
  /** Config and plan warnings. */
  warnings: string[];
  /** A raw target's dump the last capture left on the partition, saved now as a normal dump (its path), or null. */
  rawSaved: string | null;
}

function running(h: ServiceHost): string {
  return h.sys.read("/proc/sys/kernel/osrelease")?.trim() ?? "";
}

/** The load plan for `release` under config `c` (builds, reuses or is given the capture initramfs; loads nothing). */
function plan(h: ServiceHost, c: ServiceConfig, release: string, o: ArmOptions, initrd?: string): LoadPlan {
  const other = release !== running(h);
  return planLoad(
    {
      config: c.config,
      cacheDir: o.cacheDir,
      ...(initrd ? { initrd } : {}),
      ...(other ? { kernel: `/boot/vmlinuz-${release}`, modulesDir: `/lib/modules/${release}` } : {}),
    },
    h.sys,
  );
}

/** An image recorded (loaded in an earlier boot, or prepared) for `release` with fingerprint `inputs`, still on disk. */
function recorded(h: ServiceHost, s: ServiceState, release: string, inputs: string): string | null {
  const found = [s.armed, s.prepared[release]].find((r) => r && r.inputs === inputs && (!("release" in r) || r.release === release));
  return found && existsSync(join(h.root || "/", found.initrd)) ? found.initrd : null;
}

/** Checks, plans and loads; `force` loads even when the same inputs are loaded already. */
function arm(o: ArmOptions, h: ServiceHost, force: boolean, unloadFirst: boolean): ArmResult {
  requirePrerequisites(h);
  const c = serviceConfig(h);
  const raw = saveRaw(h, c);
  const rawSaved = raw.path;
  const release = running(h);
  const base = { release, target: c.target, configFiles: c.files, rawSaved };
  if (!c.config.settings.enabled) {
    const at = formatOrigin(c.config.origins.enabled ?? null);
    return { ...base, action: "disabled", initrd: "", built: false, reason: `${at}: USE_KDUMP=0 says not to arm kdump (set USE_KDUMP=1 to arm it)`, warnings: [...c.warnings, ...raw.warning] };
  }
  const inputs = captureInputs(h, release, c.files, c.target, collectorPaths());
  const state = readState(h);
  const boot = bootId(h);
  const loaded = readFlag(h.sys, "/sys/kernel/kexec_crash_loaded") === true;
  const layout = memoryLayout(h);
  const same = state.armed?.bootId === boot && state.armed.inputs === inputs && (state.armed.layout ?? layout) === layout;
  if (!force && loaded && same && existsSync(state.armed!.initrd))
    return { ...base, action: "unchanged", initrd: state.armed!.initrd, built: false, warnings: [...c.warnings, ...raw.warning] };
  const ready = recorded(h, state, release, inputs);
  const p = plan(h, c, release, o, ready ?? undefined);
  if (unloadFirst) unload({}, h.sys);
  loadPlan(p, h.sys);
  updateState(h, (s) => {
    s.armed = { by: o.by ?? "hand", bootId: boot, at: h.now(), release, initrd: p.initrd!, inputs, layout };
  });
  return { ...base, action: "loaded", initrd: p.initrd!, built: p.initramfs?.built ?? false, reused: ready !== null, warnings: [...c.warnings, ...raw.warning, ...p.warnings, ...spaceCheck(h, c, p)] };
}

/**
 * With a raw target (kdump.conf `raw /dev/…`), saves the flattened stream a capture left on the partition as
 * /var/crash/<host>-<date>/vmcore and marks the partition consumed, before arming again (as kdumpctl does).
 */
function saveRaw(h: ServiceHost, c: ServiceConfig): { path: string | null; warning: string[] } {
  const t = c.config.settings.target;
  if (t.kind !== "raw" || !existsSync(join(h.root, t.device))) return { path: null, warning: [] };
  try {
    return { path: saveRawDump(join(h.root, t.device), join(h.root, "/var/crash"), hostname())?.path ?? null, warning: [] };
  } catch (e) {
    return { path: null, warning: [`the dump on ${t.device} could not be saved (${errorLine(e)}); arming anyway, which the next crash overwrites`] };
  }
}

/**
 * The forecast of a dump at the configured level against the free space of the target (a mounted directory), as a
 * warning with both numbers; none when it fits or cannot be told (target not mounted here, no /proc/kcore).
 */
export function spaceCheck(h: Pick<ServiceHost, "forecast" | "free">, c: Pick<ServiceConfig, "config">, p: Pick<LoadPlan, "target" | "storage">): string[] {
  if (!h.forecast || !h.free || !p.target) return [];
  const dir = p.storage?.targetMount?.dir.startsWith("/tmp/") ? null : p.target;
  let free: number | null = null;
  for (let d = dir; d && free === null; d = d === "/" ? null : dirname(d)) free = h.free(d); // the target folder may not exist yet
  if (free === null) return [];
  try {
    const w = spaceWarning(h.forecast(c.config.settings.dumpLevel), free, p.target);
    return w ? [w] : [];
  } catch (e) {
    return [`the dump size could not be forecast (${errorLine(e)}): the free space at ${p.target} was not checked`];
  }
}

/**
 * `kdump start`: checks every prerequisite and the config, builds the capture initramfs only when an input changed,
 * and loads it; does nothing when the same inputs are loaded already in this boot.
 * @example start({ by: "service" }).action  // "loaded"
 */
export function start(o: ArmOptions = {}, h: ServiceHost = realServiceHost): ArmResult {
  return arm(o, h, false, false);
}

/**
 * `kdump reload`: reads the config again and loads again when an input or the memory and CPU map changed (the
 * hotplug rule's way to re-arm: the config is checked first and the new load replaces the old, never unloads it).
 */
export function reload(o: ArmOptions = {}, h: ServiceHost = realServiceHost): ArmResult {
  return arm(o, h, false, false);
}

/** `kdump restart`: checks everything as start does, then unloads and loads again even when nothing changed. */
export function restart(o: ArmOptions = {}, h: ServiceHost = realServiceHost): ArmResult {
  return arm(o, h, true, true);
}

/** `kdump stop`: unloads the capture kernel and forgets who armed it. */
export function stop(h: ServiceHost = realServiceHost): void {
  unload({}, h.sys);
  updateState(h, (s) => {
    s.armed = null;
  });
}

/** What rebuild did. */
export interface RebuildResult {
  release: string;
  /** The capture initramfs (null after --remove). */
  initrd: string | null;
  /** "built", "removed". */
  action: "built" | "removed";
}

/**
 * Builds (or reuses) the capture image of `release` under config `c` and records it as prepared with its input
 * fingerprint, so that `start` at the next boot loads it as it is. Loads nothing.
 */
function prepare(h: ServiceHost, c: ServiceConfig, release: string, o: ArmOptions, fresh: boolean): string {
  let p = plan(h, c, release, o);
  if (fresh && p.initramfs && !p.initramfs.built) {
    rmSync(p.initrd!, { force: true });
    p = plan(h, c, release, o);
  }
  const inputs = captureInputs(h, release, c.files, c.target, collectorPaths());
  updateState(h, (s) => {
    s.prepared[release] = { initrd: p.initrd!, at: h.now(), inputs };
  });
  return p.initrd!;
}

/**
 * Prepares the running kernel's capture image (`kdump enable` does, so the first boot after it only loads).
 * @example prepareRunning().initrd  // "/var/lib/kdump/initramfs-6.12.117+deb12-cloud-amd64-….img"
 */
export function prepareRunning(o: ArmOptions = {}, h: ServiceHost = realServiceHost): RebuildResult {
  const release = running(h);
  return { release, initrd: prepare(h, serviceConfig(h), release, o, false), action: "built" };
}

/**
 * `kdump rebuild`: builds the running kernel's capture initramfs again from scratch, or prepares the one of an
 * installed kernel `release` (reusing a cached image with the same inputs), and records it as prepared; loads nothing. With `remove`, forgets and deletes the image of a removed kernel.
 * @example rebuild({ release: "6.12.117+deb12-cloud-amd64" }).initrd
 */
export function rebuild(o: ArmOptions & { release?: string; remove?: boolean } = {}, h: ServiceHost = realServiceHost): RebuildResult {
  const release = o.release ?? running(h);
  if (o.remove) {
    const prev = readState(h).prepared[release];
    if (prev) rmSync(join(h.root || "/", prev.initrd), { force: true });
    updateState(h, (s) => void delete s.prepared[release]);
    return { release, initrd: null, action: "removed" };
  }
  requirePrerequisites(h, release);
  // for the running kernel, from scratch: a cached image is dropped and built again (the kernel hooks name a
  // release, and reuse an image whose inputs are the same)
  return { release, initrd: prepare(h, serviceConfig(h), release, o, !o.release), action: "built" };
}
