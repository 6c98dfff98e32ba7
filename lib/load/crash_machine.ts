// What a kexec_load crash loader must know about the running machine (x86_64 and arm64, Linux 4.x+): the physical memory map
// (/proc/iomem), the crash reservation, each CPU's crash_notes, VMCOREINFO, the kernel text and direct map (the
// headers of /proc/kcore), the running boot_params (/sys/kernel/boot_params/data, x86_64) and DTB (/sys/firmware/fdt,
// arm64). Needs root; reads only.
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync } from "node:fs";
import { MissingDataError } from "../errors.ts";

/** A top-level range of /proc/iomem. */
export interface IomemRange {
  /** First byte. */
  start: bigint;
  /** Last byte (inclusive, as /proc/iomem prints it). */
  end: bigint;
  /** The resource name: "System RAM", "Reserved", "ACPI Tables", "ACPI Non-volatile Storage", "Crash kernel"… */
  name: string;
  /** 0 for top-level lines, 1 and more for nested ones ("Kernel code", "Crash kernel"). */
  depth: number;
}

/** A physical range holding a note: crash_notes of one CPU, or VMCOREINFO. */
export interface NoteRange {
  /** Physical address. */
  addr: bigint;
  /** Size in bytes. */
  size: number;
}

/** The running machine as the crash loader sees it. */
export interface CrashMachine {
  /** Every /proc/iomem line. */
  iomem: IomemRange[];
  /** The "Crash kernel" reservation (the first one, below 4 GiB when there are two). */
  crash: { start: bigint; end: bigint };
  /** crash_notes of each possible CPU with a note, in CPU order. */
  cpuNotes: NoteRange[];
  /** VMCOREINFO's note (/sys/kernel/vmcoreinfo: "addr size" in hex). */
  vmcoreinfo: NoteRange;
  /** The kernel image mapping: virtual _text, its physical address, and _end - _text. */
  kernelText: { virt: bigint; phys: bigint; size: number };
  /** Base of the direct map (page_offset_base; KASLR applies). */
  pageOffset: bigint;
  /** The running kernel's boot_params (4096 bytes) or null when /sys/kernel/boot_params/data is absent. */
  bootParams: Uint8Array | null;
  /** The running system's device tree blob (/sys/firmware/fdt, arm64), or null when absent. */
  dtb?: Uint8Array | null;
}

/**
 * Parses /proc/iomem text into ranges with their nesting depth.
 * @example parseIomem("00100000-3fffffff : System RAM\n")[0].name // "System RAM"
 */
export function parseIomem(text: string): IomemRange[] {
  const out: IomemRange[] = [];
  for (const line of text.split("\n")) {
    const m = /^(\s*)([0-9a-f]+)-([0-9a-f]+) : (.*)$/.exec(line);
    if (!m) continue;
    out.push({ start: BigInt("0x" + m[2]), end: BigInt("0x" + m[3]), name: m[4]!.trim(), depth: m[1]!.length / 2 });
  }
  return out;
}

/**
 * The kernel text mapping and the direct map base from /proc/kcore's program headers: the segment whose virtual
 * address is in the kernel image area (≥ `kimageStart`, the Arch's: x86_64's __START_KERNEL_map by default) is _text.._end (KCORE_TEXT); a RAM segment below it gives
 * the direct map's vaddr - paddr (page_offset_base on x86_64). kcore gives p_paddr for both since Linux 4.x.
 */
export function kcoreLayout(headers: Uint8Array, kimageStart = 0xffffffff80000000n): { kernelText: CrashMachine["kernelText"]; pageOffset: bigint } {
  const v = new DataView(headers.buffer, headers.byteOffset, headers.byteLength);
  const LE = true;
  if (v.getUint32(0, false) !== 0x7f454c46) throw new MissingDataError("/proc/kcore: no ELF header", { hint: "is /proc/kcore enabled (CONFIG_PROC_KCORE)?" });
  const phoff = Number(v.getBigUint64(0x20, LE)); // e_phoff (8)
  const phentsize = v.getUint16(0x36, LE); // e_phentsize (2)
  const phnum = v.getUint16(0x38, LE); // e_phnum (2)
  let kernelText: CrashMachine["kernelText"] | undefined;
  let pageOffset: bigint | undefined;
  for (let i = 0; i < phnum && phoff + (i + 1) * phentsize <= headers.length; i++) {
    const p = phoff + i * phentsize;
    if (v.getUint32(p, LE) !== 1) continue; // p_type (4): PT_LOAD
    const vaddr = v.getBigUint64(p + 0x10, LE); // p_vaddr (8)
    const paddr = v.getBigUint64(p + 0x18, LE); // p_paddr (8)
    const memsz = v.getBigUint64(p + 0x28, LE); // p_memsz (8)
    if (paddr === 0xffff_ffff_ffff_ffffn) continue; // vmalloc, modules, vmemmap: no physical address
    if (vaddr >= kimageStart) kernelText ??= { virt: vaddr, phys: paddr, size: Number(memsz) };
    else pageOffset ??= vaddr - paddr;
  }
  if (!kernelText || pageOffset === undefined)
    throw new MissingDataError("/proc/kcore: no kernel text or direct-map segment with a physical address", { hint: "needs Linux 4.x+ kcore with p_paddr" });
  return { kernelText, pageOffset };
}

/** "addr size" in hex, as /sys/kernel/vmcoreinfo and crash_notes print them. */
function hexWords(text: string): bigint[] {
  return text.trim().split(/\s+/).map((w) => BigInt(w.startsWith("0x") ? w : "0x" + w));
}

function readHead(path: string, bytes: number): Uint8Array {
  const fd = openSync(path, "r");
  try {
    const buf = new Uint8Array(bytes);
    const n = readSync(fd, buf, 0, bytes, 0);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads the machine under `root` ("" on a real box; tests point it at a copied tree). Throws MissingDataError
 * when there is no reservation or a file the loader needs is missing.
 * @example readCrashMachine().crash // { start: 0x2f000000n, end: 0x3effffffn }
 */
export function readCrashMachine(root = "", kimageStart = 0xffffffff80000000n): CrashMachine {
  const iomem = parseIomem(readFileSync(`${root}/proc/iomem`, "utf8"));
  const crash = iomem.find((r) => r.name === "Crash kernel" && r.end > r.start);
  if (!crash) throw new MissingDataError("no crash kernel reservation in /proc/iomem", { hint: "boot with crashkernel= (e.g. crashkernel=256M) and run as root" });
  const cpuDir = `${root}/sys/devices/system/cpu`;
  const cpus = readdirSync(cpuDir).filter((n) => /^cpu\d+$/.test(n)).map((n) => Number(n.slice(3))).sort((a, b) => a - b);
  const cpuNotes: NoteRange[] = [];
  for (const cpu of cpus) {
    const f = `${cpuDir}/cpu${cpu}/crash_notes`;
    if (!existsSync(f)) continue;
    const [addr] = hexWords(readFileSync(f, "utf8"));
    const size = Number(readFileSync(`${f}_size`, "utf8").trim());
    cpuNotes.push({ addr: addr!, size });
  }
  if (!cpuNotes.length) throw new MissingDataError("no /sys/devices/system/cpu/cpu*/crash_notes", { hint: "the kernel needs CONFIG_CRASH_DUMP" });
  const [viAddr, viSize] = hexWords(readFileSync(`${root}/sys/kernel/vmcoreinfo`, "utf8"));
  const { kernelText, pageOffset } = kcoreLayout(readHead(`${root}/proc/kcore`, 65536), kimageStart);
  const bp = `${root}/sys/kernel/boot_params/data`;
  return {
    iomem,
    crash: { start: crash.start, end: crash.end },
    cpuNotes,
    vmcoreinfo: { addr: viAddr!, size: Number(viSize) },
    kernelText,
    pageOffset,
    bootParams: existsSync(bp) ? new Uint8Array(readFileSync(bp)) : null,
    dtb: existsSync(`${root}/sys/firmware/fdt`) ? new Uint8Array(readFileSync(`${root}/sys/firmware/fdt`)) : null,
  };
}
