// `kdump load`: plan what goes into the crash reservation (kernel, our capture initramfs, command line, memory
// needed against reserved), then load it with kexec_file_load; or stage a kernel for `kdump exec` (--kexec). x86_64.
import { installedKernel, kernelFileCandidates } from "../boot/kernel_files.ts";
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { UsageError } from "../errors.ts";
import { KexecError, kexecFileLoad, kexecFileUnload } from "../sys/kexec.ts";
import { kexecLoadUnload } from "../sys/kexec_load.ts";
import { loadPlanWithKexecLoad, loadWithChoice, type SyscallChoice } from "./load_segments.ts";
import { readBzImage, type BzImage } from "../arch/x86_64/bzimage.ts";
import { archNamed } from "../arch/arch.ts";
import { withFileLoadImage } from "./file_image.ts";
import { captureCmdline, editCmdline, paramValue, splitCmdline } from "./cmdline.ts";
import { readFlag, realHost, requireSyscalls, type HostSys } from "./host.ts";
import { COLLECTOR_MIN_KIB } from "../initramfs/init.ts";
import { collectorMemory, formatCollectorMemory, type CollectorMemory } from "../collect/collector_memory.ts";
import { defaultThreads } from "../collect/compress_pool.ts";
import { systemRam } from "../boot/sizing.ts";
import { buildInitramfs, initramfsCodec, type BuiltInitramfs } from "../initramfs/initramfs.ts";
import { deviceModules, moduleIndex, mountOf, parseMountinfo, resolveModules } from "../initramfs/modules.ts";
import { captureSettings } from "../config/capture_settings.ts";
import { mountStack } from "../collect/devices.ts";
import { captureStorage, formatStack, planStorage, type CaptureStorage } from "../initramfs/storage.ts";
import { runtimeScript, stageRuntime, targetRuntime, type TargetRuntime } from "../initramfs/target_runtime.ts";
import { loadConfig } from "../config/load.ts";
import type { KdumpConfig } from "../config/settings.ts";
import { checkSupported } from "../config/supported.ts";
import { formatOrigin } from "../config/origin.ts";
import { formatTarget } from "../config/target.ts";
import { realNetSys, type NetSys } from "../initramfs/network.ts";
import { remoteCapture, type RemoteCapture } from "../initramfs/remote_target.ts";

/** What the user asked for. */
export interface LoadOptions {
  /** Kernel image; default the running kernel's /boot/vmlinuz-RELEASE or /usr/lib/modules/RELEASE/vmlinuz. */
  kernel?: string;
  /** Initramfs to load instead of building ours; with --kexec the default is the distro's /boot/initrd.img-RELEASE. */
  initrd?: string;
  /** The whole command line to use instead of deriving it from /proc/cmdline. */
  cmdline?: string;
  /** Parameters to append. */
  append?: string[];
  /** Parameter names to remove. */
  remove?: string[];
  /** Stage for `kdump exec` (normal kexec) instead of loading the crash kernel. */
  kexec?: boolean;
  /** Directory on the root filesystem that receives dumps (default /var/crash). */
  target?: string;
  /** More modules for the capture initramfs. */
  modules?: string[];
  /** /lib/modules/RELEASE of the kernel to load (default from its release). */
  modulesDir?: string;
  /** Where built initramfs images are cached (default /var/lib/kdump). */
  cacheDir?: string;
  /** kexec_file_load ("file"), our kexec_load path ("load"), or file falling back to load on ENOSYS/ENOEXEC ("auto"); the default is the architecture's (file on x86_64, auto on arm64). */
  syscall?: SyscallChoice;
  /** The box's config (default: read from /etc through the host); the options above win over it. */
  config?: KdumpConfig;
  /** Routes, addresses and sysfs for a network target (default this machine's). */
  net?: NetSys;
}

/** What `kdump load` will do (and `--dry-run` prints). */
export interface LoadPlan {
  /** "crash": the capture kernel, started by a panic; "kexec": staged for `kdump exec`. */
  mode: "crash" | "kexec";
  /** Kernel image path. */
  kernel: string;
  /** Its setup header, or null when the file is not a bzImage (the kernel will refuse it with ENOEXEC). */
  image: BzImage | null;
  /** Where the architecture loads a bare image (arm64 Image): the memory it takes running; absent otherwise. */
  bare?: { memBytes: number } | null;
  /** Initramfs path, or null for none. */
  initrd: string | null;
  /** Its size in bytes (0 for none). */
  initrdBytes: number;
  /** Our capture initramfs when we built it. */
  initramfs: BuiltInitramfs | null;
  /** Modules packed into it, in load order. */
  modules: string[];
  /** The new kernel's command line. */
  cmdline: string;
  /** Bytes reserved (/sys/kernel/kexec_crash_size); null when unknown. */
  reserved: number | null;
  /** Bytes the load itself places in the reservation: the kernel's init_size plus the initramfs. */
  loadBytes: number;
  /** Estimated bytes a capture with the Bun collector needs: the load, the unpacked initramfs, working memory. */
  needBytes: number;
  /** The collector's forecast for this box's RAM and the capture kernel's CPUs (nr_cpus=), part of needBytes. */
  collector: CollectorMemory;
  /** Estimated least bytes with which a capture still saves a dump (the busybox copy). */
  minBytes: number;
  /** Where dumps go (crash mode). */
  target: string | null;
  /** The config applied (crash mode), or null. */
  config: KdumpConfig | null;
  /** The storage the capture brings up (crash mode, our initramfs), or null. */
  storage: CaptureStorage | null;
  /** With the root on LUKS: the runtime staged on the dump target, which the collector runs from; else null. */
  runtime?: TargetRuntime | null;
  /** A network target's capture plan (interface, address, driver), or null for a local one. */
  remote?: RemoteCapture | null;
  /** Things that will not stop the load but may stop a capture. */
  warnings: string[];
}

const MiB = 1048576;
/**
 * Memory a capture needs besides the kernel's init_size and the initramfs (packed and unpacked): the capture
 * kernel's own allocations (~8 MiB; in the lab MemAvailable was crashkernel= minus ~60 MiB on 6.1, ~66 on 6.12) and the
 * MemAvailable our init wants before it runs the Bun collector (COLLECTOR_MIN_KIB).
 */
export const CAPTURE_WORKING_BYTES = 8 * MiB + COLLECTOR_MIN_KIB * 1024;

/**
 * Memory the capture kernel needs besides its image and initramfs to boot, load modules and copy /proc/vmcore
 * with busybox dd. In the lab it ran out of memory while booting with 17 MiB left on 6.1 (crashkernel=72M) and
 * 5 MiB on 6.12 (64M), and saved the dump with 25 MiB (6.1, 80M) and 13 MiB (6.12, 72M).
 */
export const CAPTURE_BOOT_BYTES = 24 * MiB;

/** The running kernel's release. */
function runningRelease(sys: HostSys): string {
  const r = sys.read("/proc/sys/kernel/osrelease")?.trim();
  if (!r) throw new UsageError("cannot read /proc/sys/kernel/osrelease", { hint: "is /proc mounted?" });
  return r;
}

/** The boot CPU's APIC id (the first `apicid` in /proc/cpuinfo), as kdump-utils' get_bootcpu_apicid reads it. */
export function bootCpuApicId(cpuinfo: string | null): number | undefined {
  const m = cpuinfo ? /^apicid\s*:\s*(\d+)/m.exec(cpuinfo) : null;
  return m ? Number(m[1]) : undefined;
}

/** The collector's runtime and entry: this Bun and this checkout's kdump.ts. */
export function collectorPaths(): { bun: string; kdump: string } {
  return { bun: process.execPath, kdump: join(import.meta.dir, "..", "..", "kdump.ts") };
}

/**
 * Works out what to load; builds (or reuses) the capture initramfs. Loads nothing.
 * @example formatPlan(planLoad({ target: "/var/crash" }))
 */
export function planLoad(o: LoadOptions = {}, sys: HostSys = realHost): LoadPlan {
  const mode = o.kexec ? "kexec" : "crash";
  const running = runningRelease(sys);
  const config = mode === "crash" ? (o.config ?? loadConfig(sys.configFs ?? { read: () => null, list: () => null, mode: () => null })) : null;
  const installed = installedKernel(running);
  const kernel = o.kernel ?? config?.settings.kernel ?? installed.vmlinuz ?? `/boot/vmlinuz-${running}`;
  if (!existsSync(kernel))
    throw new UsageError(`kernel image ${kernel} not found`, { hint: o.kernel || config?.settings.kernel ? "give one with --kernel" : `neither ${kernelFileCandidates(running).vmlinuz.join(" nor ")} exists: give one with --kernel` });
  const image = readBzImage(kernel);
  const release = image?.release || running;
  const proc = sys.read("/proc/cmdline")?.trim() ?? "";
  const warnings: string[] = [];
  // arm64: the bare Image inside (gzip, EFI zboot) and the memory it takes running
  const arch = archNamed(sys.machine());
  let bareBytes: number | undefined;
  if (!image && arch.kexecFileImage) {
    try {
      bareBytes = arch.kexecFileImage(new Uint8Array(readFileSync(kernel))).memBytes;
    } catch (e) {
      warnings.push(`${kernel}: ${(e as Error).message}: the load will fail`);
    }
  } else if (!image) warnings.push(`${kernel} is not a bzImage: kexec_file_load will refuse it`);
  else if (!image.kernel64) warnings.push(`${kernel} has no 64-bit entry point: kexec_file_load will refuse it`);
  const sizeText = sys.read("/sys/kernel/kexec_crash_size");
  const reserved = sizeText === null ? null : Number(sizeText.trim());
  let initrd: string | null = o.initrd ?? null;
  let initramfs: BuiltInitramfs | null = null;
  let modules: string[] = [];
  let cmdline: string;
  let target: string | null = null;
  let storage: CaptureStorage | null = null;
  let remotePlan: RemoteCapture | null = null;
  let runtime: TargetRuntime | null = null;
  if (mode === "kexec") {
    initrd ??= [`/boot/initrd.img-${release}`, `/boot/initramfs-${release}.img`].find((p) => existsSync(p)) ?? null;
    cmdline = editCmdline(o.cmdline ?? proc, { remove: o.remove, append: o.append });
  } else {
    const cfg = config!;
    const mountinfo = sys.read("/proc/self/mountinfo") ?? "";
    const mounts = parseMountinfo(mountinfo);
    const rootMount = mountOf(mounts, "/");
    if (!rootMount) throw new UsageError("cannot find the root filesystem in /proc/self/mountinfo", { hint: "is /proc mounted?" });
    // the config's target must be one the capture can write to; --target replaces it
    if (!o.target) checkSupported(cfg, (p) => mountOf(mounts, p)?.mountpoint === rootMount.mountpoint || mountStack(p, mountinfo) !== null);
    const capture = captureSettings(cfg);
    if (!cfg.settings.enabled) warnings.push(`${formatOrigin(cfg.origins.enabled ?? null)}: USE_KDUMP=0 says not to arm kdump at boot; loading anyway, as asked`);
    const modulesDir = o.modulesDir ?? installedKernel(release).modulesDir;
    // an NFS or ssh target: the network the capture kernel brings up, and what it packs (--target replaces it)
    const remote = o.target ? null : remoteCapture(cfg.settings.target, cfg.settings, o.net ?? realNetSys(modulesDir), sys.read("/proc/self/mountinfo") ?? "");
    remotePlan = remote;
    const extra = [...cfg.settings.extraModules, ...(o.modules ?? []), ...(remote?.modules ?? [])];
    if (!paramValue(splitCmdline(proc), "root") && !rootMount.source.startsWith("/dev/"))
      warnings.push(`the root filesystem (${rootMount.fstype} from ${rootMount.source}) is not on a block device the capture init can find: give it with --append kdump.root=UUID=…`);
    const { bun, kdump } = collectorPaths();
    const idx = initrd ? null : moduleIndex(modulesDir);
    // the storage under the root and the dump target: drivers, md arrays, logical volumes, the target's own filesystem
    storage = idx ? captureStorage(o.target ? { kind: "dir", path: o.target } : cfg.settings.target, mountinfo, idx, cfg.settings.deviceTimeout) : null;
    target = o.target ?? (remote ? formatTarget(cfg.settings.target) : (storage?.target ?? capture.target));
    warnings.push(...(storage?.warnings ?? []));
    // an encrypted target is refused; a locked (LUKS) root: the collector runs from Bun and the toolkit staged on the target; the capture leaves the root shut
    runtime = storage ? targetRuntime(storage, target, remote !== null) : null;
    if (runtime && storage && idx) storage.plan = planStorage(storage.stacks.slice(1), idx, cfg.settings.deviceTimeout, storage.targetMount);
    if (runtime && (capture.preHooks?.length || capture.postHooks?.length)) warnings.push("the pre/post hooks are on the locked root: the capture cannot run them");
    for (const [what, p] of [...(remote ? [] : [["dump target", target]] as const), ...(runtime ? [] : [["Bun runtime", bun], ["kdump.ts", kdump]] as const)] as const)
      // a dump target on its own filesystem is mounted by target_up; a raw device is written through the root's /dev
      if (!(what === "dump target" && (storage?.targetMount || (!o.target && cfg.settings.target.kind === "raw"))) && mountOf(mounts, p)?.mountpoint !== rootMount.mountpoint)
        warnings.push(`the ${what} ${p} is not on the root filesystem, which is all the capture init mounts${what === "dump target" ? "" : ": the capture falls back to a busybox copy"}`);
    if (idx && storage) {
      const wanted = [...storage.plan.modules, ...(runtime ? [] : [...deviceModules(rootMount.majmin), rootMount.fstype]), ...extra];
      const resolved = resolveModules([...new Set(wanted)].filter((n) => idx.files.has(n.replace(/-/g, "_")) || extra.includes(n)), idx);
      modules = resolved.map((m) => m.name);
      const config = kernelFileCandidates(release).config.map((p) => sys.read(p)).find((t) => t !== null) ?? sys.read(join(dirname(kernel), `config-${release}`)) ?? sys.read(join(dirname(kernel), "config"));
      initramfs = buildInitramfs({
        release,
        modules: resolved,
        codec: initramfsCodec(config),
        cacheDir: o.cacheDir,
        files: storage.plan.files,
        packed: remote?.files,
        init: { ...capture, target, bun, kdump, rootWaitSeconds: 30, storage: storage.plan.script + (runtime ? runtimeScript(runtime, bun, cfg.settings.deviceTimeout) : ""), ...(runtime ? { runtimeOnTarget: true } : {}), ...(remote ? { remote } : {}) },
      });
      initrd = initramfs.path;
    }
    const root = rootMount.source.startsWith("/dev/") ? rootMount.source : undefined;
    const remove = [...cfg.settings.cmdlineRemove, ...(o.remove ?? [])];
    const append = [...cfg.settings.cmdlineAppend, ...(o.append ?? [])];
    cmdline = o.cmdline ?? captureCmdline(cfg.settings.cmdline ?? proc, { remove, append, root, bootCpuApicId: bootCpuApicId(sys.read("/proc/cpuinfo")), machine: sys.machine() });
  }
  const initrdBytes = initrd ? statSync(initrd).size : 0;
  const loadBytes = (image?.initSize ?? bareBytes ?? statSync(kernel).size) + initrdBytes;
  const unpacked = initramfs?.cpioBytes ?? initrdBytes * 3;
  // the collector's bitmaps grow with this box's RAM; its workers with the capture kernel's CPUs (nr_cpus=, default 1)
  const ram = systemRam(sys.read("/proc/iomem") ?? "") || 1 << 30;
  const collector = collectorMemory(ram, defaultThreads(Number(paramValue(splitCmdline(cmdline), "nr_cpus") ?? 1) || 1));
  const needBytes = loadBytes + unpacked + CAPTURE_WORKING_BYTES - COLLECTOR_MIN_KIB * 1024 + collector.bytes;
  const minBytes = loadBytes + unpacked + CAPTURE_BOOT_BYTES;
  if (image && cmdline.length > image.cmdlineMax) warnings.push(`the command line is ${cmdline.length} bytes; ${kernel} accepts ${image.cmdlineMax}`);
  if (mode === "crash") {
    if (!reserved) warnings.push("no memory is reserved (crashkernel= missing or too large for this machine): the load will fail");
    else if (reserved < loadBytes) warnings.push(`${mib(loadBytes)} to load does not fit the ${mib(reserved)} reserved: the load will fail`);
    else if (reserved < minBytes) warnings.push(`${mib(reserved)} reserved leaves the capture kernel too little to boot and save a dump (~${mib(minBytes)} needed): raise crashkernel=`);
    else if (reserved < needBytes && !o.initrd)
      warnings.push(`${mib(reserved)} reserved is below the ~${mib(needBytes)} the Bun collector needs: a capture copies /proc/vmcore whole with busybox dd instead`);
  }
  return { mode, kernel, image, bare: bareBytes === undefined ? null : { memBytes: bareBytes }, initrd, initrdBytes, initramfs, modules, cmdline, reserved, loadBytes, needBytes, collector, minBytes, target, config, storage, runtime, remote: remotePlan, warnings };
}

/**
 * Loads a plan with kexec_file_load; for a crash kernel also sets kernel.panic_on_oops=1 (as Debian's kdump-tools
 * does) so an oops is captured too. Throws KexecError with the errno explained.
 */
export function loadPlan(p: LoadPlan, sys: HostSys = realHost, syscall: SyscallChoice = p.config?.settings.syscall ?? archNamed(sys.machine()).defaultSyscall): { seconds: number } {
  requireSyscalls(sys);
  if (p.runtime) stageRuntime(p.runtime, collectorPaths()); // before the load: a crash from now on finds it
  const start = performance.now();
  loadWithChoice(syscall, () => withFileLoadImage(p.kernel, archNamed(sys.machine()), (kernel) => kexecFileLoad(
    { kernel, initrd: p.initrd, cmdline: p.cmdline, crash: p.mode === "crash" },
    {
      kernelBytes: p.image?.initSize,
      initrdBytes: p.initrdBytes,
      needBytes: p.needBytes,
      reserved: p.reserved,
      cmdlineMax: p.image ? p.image.cmdlineMax + 1 : undefined,
      uid: sys.uid(),
      loadDisabled: readFlag(sys, "/proc/sys/kernel/kexec_load_disabled") ?? undefined,
      lockdown: /\[(\w+)\]/.exec(sys.read("/sys/kernel/security/lockdown") ?? "")?.[1] ?? null,
    },
    sys.kexec,
  )), () => void loadPlanWithKexecLoad(p, sys.kexecLoad));
  if (p.mode === "crash") sys.write("/proc/sys/kernel/panic_on_oops", "1");
  return { seconds: (performance.now() - start) / 1000 };
}

/** What `kdump load` did. */
export interface LoadResult {
  /** The plan. */
  plan: LoadPlan;
  /** True when the kernel was loaded (false for --dry-run). */
  loaded: boolean;
  /** Seconds the kexec_file_load call took (0 for --dry-run). */
  loadSeconds: number;
}

/**
 * `kdump load`: plans, then loads unless `dryRun`.
 * @example load({ dryRun: true }).plan.needBytes
 */
export function load(o: LoadOptions & { dryRun?: boolean } = {}, sys: HostSys = realHost): LoadResult {
  if (!o.dryRun) requireSyscalls(sys); // before building anything: the load itself could not be made here
  const plan = planLoad(o, sys);
  if (o.dryRun) return { plan, loaded: false, loadSeconds: 0 };
  return { plan, loaded: true, loadSeconds: loadPlan(plan, sys, o.syscall ?? plan.config?.settings.syscall ?? archNamed(sys.machine()).defaultSyscall).seconds };
}

/** The result as a person reads it. */
export function formatLoad(r: LoadResult): string {
  const done = r.loaded
    ? r.plan.mode === "crash"
      ? `loaded: a crash now boots the capture kernel (${r.loadSeconds.toFixed(2)} s); test it with \`kdump trigger\``
      : `staged: \`kdump exec\` reboots into it (${r.loadSeconds.toFixed(2)} s)`
    : "dry run: nothing loaded";
  return `${formatPlan(r.plan)}\n${done}`;
}

/**
 * Unloads the capture kernel, or the staged kexec kernel with `kexec`. Nothing loaded is not an error. Either call
 * unloads an image whichever loaded it: kexec_file_load's UNLOAD first, then kexec_load with no segments where the
 * kernel has no KEXEC_FILE (ENOSYS) or rejects the flag (EINVAL, before 3.17).
 */
export function unload(o: { kexec?: boolean } = {}, sys: HostSys = realHost): void {
  requireSyscalls(sys);
  try {
    kexecFileUnload(!o.kexec, sys.kexec);
  } catch (e) {
    if (!(e instanceof KexecError) || !["ENOSYS", "EINVAL"].includes(e.code) || !sys.kexecLoad) throw e;
    kexecLoadUnload(!o.kexec, sys.kexecLoad);
  }
}

function mib(n: number): string {
  return `${(n / MiB).toFixed(1)} MiB`;
}

/** The plan as a person reads it. */
export function formatPlan(p: LoadPlan): string {
  const lines = [
    `mode:        ${p.mode === "crash" ? "capture kernel (loaded into the crashkernel= reservation, started by a panic)" : "kexec (staged for `kdump exec`)"}`,
    `kernel:      ${p.kernel}${p.image ? ` (${p.image.release}, ${mib(p.image.fileBytes)} file, ${mib(p.image.initSize)} in memory)` : p.bare ? ` (Image, ${mib(p.bare.memBytes)} in memory)` : " (not a bzImage)"}`,
    `initramfs:   ${p.initrd ? `${p.initrd} (${mib(p.initrdBytes)}${p.initramfs ? `, ${mib(p.initramfs.cpioBytes)} unpacked, ${p.initramfs.codec}, ${p.initramfs.built ? "built" : "cached"}` : ""})` : "none"}`,
    ...(p.mode === "crash" ? [`modules:     ${p.modules.length ? p.modules.join(" ") : "(none: the target's drivers are built in)"}`, `dump target: ${p.target}`, ...(p.remote ? [`network:     ${p.remote.network.iface} (${p.remote.network.mac}, ${p.remote.network.modules.join(" ") || "built-in driver"}) ${p.remote.network.mode === "static" ? `${p.remote.network.address}/${p.remote.network.prefix}` : "DHCP"} to ${p.remote.network.target}${p.remote.network.gateway ? ` via ${p.remote.network.gateway}` : ""}`] : [])] : []),
    ...(p.storage ? p.storage.stacks.flatMap((m, i) => formatStack(m.stack).map((l, j) => `${i === 0 && j === 0 ? "storage:     " : "             "}${j === 0 ? `${m.mount.mountpoint || "(target)"} on ` : ""}${l}`)) : []),
    ...(p.storage?.targetMount ? [`mounts:      ${p.storage.targetMount.spec} (${p.storage.targetMount.fstype}) at ${p.storage.targetMount.dir} for the dump, after the root`] : []),
    ...(p.runtime ? [`runtime:     the root is locked (LUKS ${p.runtime.locked.map((l) => l.luksUuid ?? l.name).join(", ")}): the collector runs from Bun and the toolkit staged in ${p.runtime.dir} (0700) on ${p.runtime.mount.spec}; the capture does not open the root`] : []),
    ...(p.config ? [`config:      ${p.config.sources.length ? p.config.sources.join(", ") : "none (defaults)"}; \`kdump config\` shows each setting's file and line`] : []),
    `cmdline:     ${p.cmdline}`,
    ...(p.mode === "crash"
      ? [
          `memory:      ${mib(p.loadBytes)} to load, ~${mib(p.needBytes)} to capture with the collector (~${mib(p.minBytes)} with busybox dd); ${p.reserved ? mib(p.reserved) : "nothing"} reserved`,
          `collector:   ${formatCollectorMemory(p.collector)}; the reservation leaves it ${p.reserved ? `~${mib(Math.max(0, p.reserved - (p.needBytes - p.collector.bytes)))}` : "nothing"}`,
        ]
      : []),
    ...p.warnings.map((w) => `warning:     ${w}`),
  ];
  return lines.join("\n");
}
