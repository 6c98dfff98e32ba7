// Where the kallsyms tables are: VMCOREINFO's SYMBOL(kallsyms_*) (6.0+), else a System.map (given, or found by
// release under /boot, /usr/lib/debug/boot or /lib/modules) moved by KERNELOFFSET, else a scan of the kernel image
// for the tables' shape (kallsyms_scan.ts). A System.map is checked against the dump (every SYMBOL() VMCOREINFO
// has, and the linux_banner text) and refused when it belongs to another build.
import { existsSync, readFileSync } from "node:fs";
import { MissingDataError, RefusedError } from "../errors.ts";
import type { KallsymsAddrs } from "./kallsyms.ts";
import { scanKallsyms, type ImageReader } from "./kallsyms_scan.ts";
import { KERNEL_IMAGE_END, START_KERNEL_MAP } from "../arch/x86_64/pagetable.ts";
import type { KernelView } from "./view.ts";

const TABLES = ["num_syms", "names", "token_table", "token_index", "offsets", "relative_base"] as const;

/** Symbol addresses from a System.map, as linked (before KASLR). */
export type SystemMap = Map<string, bigint>;

/**
 * Parses System.map text ("ffffffff81000000 T _stext" per line); the first address of a name wins.
 * RefusedError when the text is not a System.map.
 */
export function parseSystemMap(text: string, path = "System.map"): SystemMap {
  const map: SystemMap = new Map();
  const lines = text.split("\n");
  let bad = 0;
  for (const line of lines) {
    if (!line) continue;
    const m = /^([0-9a-fA-F]{8,16}) ([A-Za-z?]) (\S+)/.exec(line);
    if (!m) {
      bad++;
      continue;
    }
    if (!map.has(m[3]!)) map.set(m[3]!, BigInt("0x" + m[1]));
  }
  if (!map.has("_stext") || bad > lines.length / 100)
    throw new RefusedError(`${path} is not a usable System.map (${bad} unreadable lines${map.has("_stext") ? "" : ", no _stext"})`, {
      hint: "give the System.map of the crashed kernel's build (Debian: linux-image-<release>-dbg, /usr/lib/debug/boot/)",
    });
  return map;
}

/**
 * Checks that `map` belongs to the kernel in `view`: each SYMBOL() in VMCOREINFO that the map also has must equal
 * map + KERNELOFFSET, and linux_banner there must read "Linux version <OSRELEASE> ". RefusedError naming the
 * first difference otherwise.
 */
export function checkSystemMap(view: KernelView, map: SystemMap, path = "System.map"): void {
  const info = view.info;
  const slide = info.kernelOffset;
  const hint = `give the System.map of ${info.osrelease}'s build (Debian: linux-image-${info.osrelease}-dbg, /usr/lib/debug/boot/)`;
  for (const [name, addr] of info.symbols) {
    const m = map.get(name);
    // Only symbols in the kernel image: SYMBOL(mem_section) and the like give a pointer's value, not an address.
    if (m === undefined || !inImage(m) || !inImage(addr)) continue;
    if (m + slide !== addr)
      throw new RefusedError(`${path} does not match the dump: ${name} is 0x${(m + slide).toString(16)} by it, 0x${addr.toString(16)} in VMCOREINFO`, { hint });
  }
  const banner = map.get("linux_banner");
  if (banner === undefined) throw new RefusedError(`${path} has no linux_banner to check it against the dump`, { hint });
  let text: string;
  try {
    text = view.cstring(banner + slide, 256);
  } catch {
    throw new RefusedError(`${path} does not match the dump: its linux_banner address is not in the dump`, { hint });
  }
  if (!text.startsWith(`Linux version ${info.osrelease} `))
    throw new RefusedError(`${path} does not match the dump: linux_banner there reads "${text.slice(0, 60).replace(/[^\x20-\x7e]/g, "?")}"`, { hint });
}

function inImage(a: bigint): boolean {
  return a >= START_KERNEL_MAP && a < KERNEL_IMAGE_END;
}

/** System.map files for `release` in the usual places, in the order tried. */
export function systemMapCandidates(release: string): string[] {
  return [`/boot/System.map-${release}`, `/usr/lib/debug/boot/System.map-${release}`, `/lib/modules/${release}/System.map`, `/lib/modules/${release}/build/System.map`];
}

/** Where kallsyms may be, and how that was found. */
export interface KallsymsLocation {
  /** Table addresses to try, in order (a scan can find more than one plausible layout). */
  candidates: KallsymsAddrs[];
  /** _stext from the System.map (moved by KERNELOFFSET), when one was used. */
  stext?: bigint;
  /** "vmcoreinfo", "system-map" or "scan". */
  source: string;
  /** The given System.map (checked against the dump), moved by KERNELOFFSET: names kallsyms lacks are looked up here. */
  given?: SystemMap;
}

/**
 * Where the kallsyms tables of the kernel in `view` are. A given `systemMap` is always checked, even when VMCOREINFO
 * has the addresses; one found on this machine is used only when it matches; without either, the kernel image is
 * scanned (through `read`, default view.read) for the tables. MissingDataError when nothing locates them.
 */
export function kallsymsAddrs(view: KernelView, systemMap?: string, read: ImageReader = (a, n) => view.read(a, n)): KallsymsLocation {
  const info = view.info;
  let given: SystemMap | undefined;
  if (systemMap !== undefined) {
    if (!existsSync(systemMap)) throw new RefusedError(`System.map ${systemMap} does not exist`, { hint: "give the path of the crashed kernel's System.map" });
    given = parseSystemMap(readFileSync(systemMap, "utf8"), systemMap);
    checkSystemMap(view, given, systemMap);
  }
  // 7.x exports the tables but no kallsyms_relative_base: its offsets are place-relative and need none
  if (TABLES.every((t) => t === "relative_base" || info.symbols.has(`kallsyms_${t}`))) {
    const a = Object.fromEntries(TABLES.flatMap((t) => (info.symbols.has(`kallsyms_${t}`) ? [[t, info.symbol(`kallsyms_${t}`)]] : []))) as unknown as KallsymsAddrs;
    return { candidates: [a], source: "vmcoreinfo", ...(given ? { given: relocated(given, info.kernelOffset) } : {}) };
  }
  const map = given ?? findSystemMap(view);
  if (!map) {
    const stext = info.symbols.get("_stext");
    const found = stext === undefined ? [] : scanKallsyms(read, stext);
    if (found.length) return { candidates: found, source: "scan" };
    throw new MissingDataError(`VMCOREINFO of ${info.osrelease} does not say where kallsyms is (kernels before 6.0 do not), and the kernel image shows no kallsyms tables`, {
      hint: `give the kernel's System.map with --system-map (tried ${systemMapCandidates(info.osrelease).join(", ")})`,
    });
  }
  const at = (n: string) => {
    const v = map.get(n);
    if (v === undefined) throw new MissingDataError(`the System.map has no ${n}`, { hint: "the kernel was built without CONFIG_KALLSYMS" });
    return v + info.kernelOffset;
  };
  const a = Object.fromEntries(TABLES.flatMap((t) => (t === "relative_base" && !map.has("kallsyms_relative_base") ? [] : [[t, at(`kallsyms_${t}`)]]))) as unknown as KallsymsAddrs;
  return { candidates: [a], stext: at("_stext"), source: "system-map", ...(given ? { given: relocated(given, info.kernelOffset) } : {}) };
}

/** The map's addresses moved by `offset` (KERNELOFFSET, KASLR). */
function relocated(map: SystemMap, offset: bigint): SystemMap {
  return new Map([...map].map(([n, a]) => [n, (a + offset) & 0xffffffffffffffffn]));
}

/** The first System.map in the usual places that parses and matches the dump. */
function findSystemMap(view: KernelView): SystemMap | undefined {
  for (const path of systemMapCandidates(view.info.osrelease)) {
    if (!existsSync(path)) continue;
    try {
      const map = parseSystemMap(readFileSync(path, "utf8"), path);
      checkSystemMap(view, map, path);
      return map;
    } catch {
      // Debian's /boot/System.map is a one-line placeholder; a map of another build is skipped the same way.
    }
  }
  return undefined;
}
