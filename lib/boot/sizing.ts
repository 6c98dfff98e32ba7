// How much crash memory to reserve, from three kinds of evidence: the distributions' tables (kdump-utils, Debian,
// Ubuntu), an estimate from the capture kernel and initramfs actually used (kdump-utils' `kdumpctl estimate`
// formula, refined by the unpacked initramfs size), and the minimum a lab rehearsal measured. Any kernel.
import { existsSync, readFileSync } from "node:fs";
import { type CrashkernelArg, formatSize, parseCrashkernel, resolveCrashkernel } from "./crashkernel.ts";
import { type InitramfsSize, initramfsSize, type KernelImageSize, kernelImageSize } from "./image_size.ts";
import { collectorMemory, type CollectorMemory } from "../collect/collector_memory.ts";

const M = 2 ** 20;

/** A distribution's default crashkernel= table. */
export interface SizeTable {
  /** Short name used by --table. */
  name: string;
  /** The crashkernel= value it puts on the command line. */
  value: string;
  /** Where it comes from. */
  source: string;
}

/** The tables distributions ship, newest first per family. */
export const SIZE_TABLES: SizeTable[] = [
  { name: "kdump-utils-x86_64", value: "2G-64G:256M,64G-:512M", source: "kdump-utils (Fedora, RHEL) x86_64 and s390x since 2025-03; +64M with SME/SEV" },
  { name: "kdump-utils-x86_64-2021", value: "1G-4G:192M,4G-64G:256M,64G-:512M", source: "kdump-utils x86_64 before 2025-03" },
  { name: "kdump-utils-aarch64", value: "2G-4G:256M,4G-64G:320M,64G-:576M", source: "kdump-utils aarch64, 4K pages (+100M with 64K pages)" },
  { name: "kdump-utils-ppc64le", value: "2G-4G:384M,4G-16G:512M,16G-64G:1G,64G-128G:2G,128G-:4G", source: "kdump-utils ppc64le kdump (+1M per capture CPU)" },
  { name: "debian", value: "384M-:128M", source: "Debian kdump-tools (/etc/default/grub.d/kdump-tools.cfg)" },
  { name: "ubuntu", value: "2G-4G:320M,4G-32G:512M,32G-64G:1024M,64G-128G:2048M,128G-:4096M", source: "Ubuntu kdump-tools (24.04 on)" },
];

/** The kdump-utils table for a CPU architecture (Node's process.arch names: x64, arm64, ppc64). */
export function defaultTable(arch: string = process.arch): SizeTable {
  const name = arch === "arm64" ? "kdump-utils-aarch64" : arch === "ppc64" ? "kdump-utils-ppc64le" : "kdump-utils-x86_64";
  return SIZE_TABLES.find((t) => t.name === name)!;
}

/** The table called `name`, or undefined. */
export function sizeTable(name: string): SizeTable | undefined {
  return SIZE_TABLES.find((t) => t.name === name);
}

/**
 * RAM in bytes as kdump-utils and the kernel count it: the sum of the "System RAM" ranges in /proc/iomem text.
 * Returns 0 when the addresses are hidden (not root). Matching a table rounds this up to 128 MiB.
 */
export function systemRam(iomem: string): number {
  let sum = 0;
  for (const m of iomem.matchAll(/^\s*([0-9a-f]+)-([0-9a-f]+) : System RAM$/gm)) {
    const [start, end] = [BigInt("0x" + m[1]), BigInt("0x" + m[2])];
    if (end > 0n) sum += Number(end - start + 1n); // non-root readers see 00000000-00000000
  }
  return sum;
}

/** An estimate of the reservation a capture kernel and initramfs need. */
export interface Estimate {
  /** The kernel's in-memory size. */
  kernel: KernelImageSize;
  /** The initramfs measured. */
  initrd: InitramfsSize;
  /** Bytes for the initramfs: max(3 × file, file + 2 × unpacked); the rootfs tmpfs may use half the memory. */
  initrdTerm: number;
  /**
   * Kernel allocations and userspace at run time: 16 MiB, as kdump-utils assumes; given the box's RAM, 8 MiB of
   * capture-kernel allocations plus our collector's forecast for that RAM (collector_memory.ts).
   */
  runtime: number;
  /** The collector's forecast behind `runtime`, when the RAM was given. */
  collector?: CollectorMemory;
  /** The sum, rounded up to 16 MiB. */
  bytes: number;
}

/**
 * Estimates from a capture kernel image and initramfs: kernel + modules + initramfs term + runtime, the runtime
 * being 16 MiB, or with the box's `ram` 8 MiB plus what our collector needs for that RAM.
 */
export function estimateCapture(kernel: Uint8Array, initrd: Uint8Array, ram?: number): Estimate {
  const k = kernelImageSize(kernel);
  const i = initramfsSize(initrd);
  const initrdTerm = Math.max(3 * i.bytes, i.unpacked === null ? 0 : i.bytes + 2 * i.unpacked);
  const collector = ram ? collectorMemory(ram) : undefined;
  const runtime = collector ? 8 * M + collector.bytes : 16 * M;
  const raw = k.bytes + i.modules + initrdTerm + runtime;
  return { kernel: k, initrd: i, initrdTerm, runtime, ...(collector && { collector }), bytes: Math.ceil(raw / (16 * M)) * 16 * M };
}

/** How a rehearsal's capture saved the dump: our collector (filtered, compressed) or the busybox dd fallback. */
export type CapturePath = "collector" | "dd" | "unknown";

/** What a lab rehearsal found (`kdump rehearse --find-min` writes .lab/rehearse-min-RELEASE.json). */
export interface RehearsalResult {
  /** The smallest reservation (bytes) with which the guest captured a dump through `via`. */
  minimum: number;
  /** The path that capture took: a dd-fallback pass proves the dd path only; "unknown" for files that do not say. */
  via: CapturePath;
  /** The capture kernel's release. */
  kernel?: string;
  /** The guest's RAM in MiB. */
  memoryMiB?: number;
  /** When it was measured (ISO 8601). */
  measured?: string;
  /** The smallest reservation that captured only through the dd fallback, when the rehearsal saw one. */
  ddMinimum?: number;
}

/**
 * Reads a rehearsal result file; null when absent or when the rehearsal found no size that captured. The
 * minimum is `minimumMiB` (what the rehearsal writes: the collector's) or `minimum` (bytes, or a size like "192M");
 * `ddMinimumMiB` is the dd fallback's. `path` says which path `minimum` was measured on ("unknown" when absent).
 */
export function readRehearsal(path: string): RehearsalResult | null {
  if (!existsSync(path)) return null;
  type File = Omit<RehearsalResult, "minimum" | "via" | "ddMinimum"> & { minimum?: number | string; minimumMiB?: number | null; ddMinimumMiB?: number | null; path?: string };
  const j = JSON.parse(readFileSync(path, "utf8")) as File;
  const dd = typeof j.ddMinimumMiB === "number" ? j.ddMinimumMiB * M : undefined;
  if (j.minimumMiB === null && dd === undefined) return null;
  const base = { kernel: j.kernel, memoryMiB: j.memoryMiB, measured: j.measured, ...(dd === undefined ? {} : { ddMinimum: dd }) };
  if (j.minimumMiB === null) return { ...base, minimum: dd!, via: "dd" };
  const minimum =
    typeof j.minimumMiB === "number" ? j.minimumMiB * M : typeof j.minimum === "number" ? j.minimum : resolveCrashkernel([parseCrashkernel(String(j.minimum))], Number.MAX_SAFE_INTEGER).size;
  if (!(minimum > 0)) throw new Error(`${path}: "minimumMiB" or "minimum" must be a positive size`);
  const via: CapturePath = j.path === "collector" || j.path === "dd" ? j.path : "unknown";
  return { ...base, minimum, via };
}

/** The box a reservation is for: its kernel release and RAM. */
export interface BoxIdentity {
  /** The running kernel's release ("" when unknown). */
  release: string;
  /** System RAM in bytes (0 when unknown). */
  ram: number;
}

/**
 * Whether a rehearsal's minimum applies to `box`: the same kernel release, the same RAM rounded up to 128 MiB (as
 * the kernel matches ranges), and measured on the collector's path. Else the reason it is evidence only.
 */
export function rehearsalApplies(r: RehearsalResult, box: BoxIdentity): { applies: boolean; why: string } {
  const round = (b: number) => Math.ceil(b / (128 * M)) * 128 * M;
  if (r.via === "dd") return { applies: false, why: "it captured only through the busybox dd fallback (an unfiltered copy), which says nothing of the collector's need" };
  if (r.via === "unknown") return { applies: false, why: "the result does not say whether the collector or the busybox dd fallback saved the dump: rehearse again (`kdump rehearse --find-min`)" };
  if (!r.kernel || r.kernel !== box.release) return { applies: false, why: `it was measured on kernel ${r.kernel ?? "(not recorded)"}, this box runs ${box.release || "an unknown kernel"}` };
  if (!r.memoryMiB || !box.ram || round(r.memoryMiB * M) !== round(box.ram))
    return { applies: false, why: `it was measured with ${r.memoryMiB ? formatSize(round(r.memoryMiB * M)) : "an unrecorded amount of"} RAM, this box has ${box.ram ? formatSize(round(box.ram)) : "an unknown amount"}` };
  return { applies: true, why: "same kernel release and RAM, captured by the collector" };
}

/** The three kinds of evidence side by side, and the value chosen. */
export interface Recommendation {
  /** RAM counted (bytes, before rounding to 128 MiB). */
  ram: number;
  /** The table used and what it gives for this RAM (0: it reserves nothing here). */
  table: SizeTable & { bytes: number };
  /** The estimate from a capture kernel and initramfs, when given. */
  estimate: Estimate | null;
  /** The rehearsal's measured minimum, when a result exists (applied or only shown: see `measuredApplies`). */
  measured: RehearsalResult | null;
  /** True when the measured minimum was used: same kernel release, same RAM, captured by the collector. */
  measuredApplies: boolean;
  /** The crashkernel= value chosen, or null when no evidence gives a size for this RAM. */
  value: CrashkernelArg | null;
  /** Which evidence chose it. */
  from: "measured" | "estimate" | "table" | null;
  /** One sentence per step of the reasoning. */
  reasoning: string[];
}

/**
 * Chooses a reservation: a measured minimum (+25% headroom) that applies to this box (`release`, `ram`: see
 * rehearsalApplies) beats an estimate, which beats the table; a measurement that does not apply is shown only.
 * The table's range list is used as it is (it follows RAM changes), a measured or estimated size as one size.
 */
export function recommend(o: { ram: number; release?: string; table?: SizeTable; estimate?: Estimate | null; measured?: RehearsalResult | null }): Recommendation {
  const table = o.table ?? defaultTable();
  const tableArg = parseCrashkernel(table.value);
  const tableBytes = o.ram > 0 ? resolveCrashkernel([tableArg], o.ram).size : 0;
  const why: string[] = [`RAM: ${o.ram ? formatSize(Math.ceil(o.ram / (128 * M)) * 128 * M) : "unknown"} (System RAM in /proc/iomem, rounded up to 128M as the kernel matches ranges)`];
  why.push(`table ${table.name} (${table.source}): crashkernel=${table.value} gives ${tableBytes ? formatSize(tableBytes) : "nothing"} here`);
  const r: Recommendation = { ram: o.ram, table: { ...table, bytes: tableBytes }, estimate: o.estimate ?? null, measured: o.measured ?? null, measuredApplies: false, value: null, from: null, reasoning: why };
  if (r.estimate) {
    const e = r.estimate;
    why.push(
      `estimate: kernel ${mib(e.kernel.bytes)} (${e.kernel.from}) + modules ${mib(e.initrd.modules)} (${e.initrd.moduleCount} in the initramfs) + initramfs ${mib(e.initrdTerm)} (max of 3 × ${mib(e.initrd.bytes)} file, file + 2 × ${e.initrd.unpacked === null ? "?" : mib(e.initrd.unpacked)} unpacked) + runtime ${mib(e.runtime)}${e.collector ? ` (8.0M kernel + collector ${mib(e.collector.bytes)} for ${(e.collector.ram / 2 ** 30).toFixed(0)} GiB of RAM)` : ""} = ${formatSize(e.bytes)}`,
    );
  }
  if (r.measured) {
    const m = r.measured;
    const fit = rehearsalApplies(m, { release: o.release ?? "", ram: o.ram });
    r.measuredApplies = fit.applies;
    const by = m.via === "collector" ? " by the collector" : m.via === "dd" ? " only by the busybox dd fallback" : "";
    const dd = m.via === "collector" && m.ddMinimum ? `; the dd fallback alone captured with ${formatSize(m.ddMinimum)}` : "";
    why.push(`measured: a rehearsal captured${by} with ${formatSize(m.minimum)}${m.kernel ? ` (${m.kernel}${m.memoryMiB ? `, ${m.memoryMiB} MiB guest` : ""})` : ""}${dd}${fit.applies ? "" : `: shown, not applied: ${fit.why}`}`);
  }
  if (r.measured && r.measuredApplies) {
    const bytes = Math.ceil((r.measured.minimum * 1.25) / (16 * M)) * 16 * M;
    r.value = { kind: "size", size: bytes, offset: null };
    r.from = "measured";
    why.push(`chosen: ${formatSize(bytes)}, the measured minimum plus 25% for what the rehearsal did not exercise`);
  } else if (r.estimate) {
    const bytes = Math.max(r.estimate.bytes, tableBytes);
    r.value = { kind: "size", size: bytes, offset: null };
    r.from = "estimate";
    why.push(`chosen: ${formatSize(bytes)}, the larger of the estimate and the table (no rehearsal result yet: run one to measure)`);
  } else if (tableBytes > 0) {
    r.value = tableArg;
    r.from = "table";
    why.push(`chosen: crashkernel=${table.value}, the table as a range list (no estimate: give --kernel and --initrd of the capture kernel)`);
  } else why.push(`no size: the table reserves nothing for this RAM and there is no estimate or measurement; give --size`);
  return r;
}

function mib(b: number): string {
  return `${(b / M).toFixed(1)}M`;
}
