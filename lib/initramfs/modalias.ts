// Which module drives a device, from the device's modalias and the capture kernel's aliases: modules.alias when
// depmod wrote one, else the `alias=` strings of the modules themselves (Debian's packages ship no modules.alias).
// Aliases are fnmatch(3) patterns (`virtio:d00000002v*`, `pci:v*d*sv*sd*bc01sc08i02*`), as modprobe matches them.
import { existsSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { modinfo, moduleBytes } from "./modinfo.ts";
import type { ModuleIndex } from "./modules.ts";

/** One alias pattern and the module it names. */
export interface AliasEntry {
  pattern: RegExp;
  module: string;
}

/** An fnmatch pattern (`*`, `?`, `[...]`) as an anchored regular expression. */
export function fnmatchRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*") re += ".*";
    else if (c === "?") re += ".";
    else if (c === "[") {
      const end = glob.indexOf("]", i + 2);
      if (end < 0) re += "\\[";
      else {
        const body = glob.slice(i + 1, end);
        re += `[${body.startsWith("!") ? "^" + body.slice(1) : body}]`.replace(/\\/g, "\\\\");
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\\]]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/** Parses modules.alias text (`alias PATTERN MODULE` lines). */
export function parseModulesAlias(text: string): AliasEntry[] {
  const out: AliasEntry[] = [];
  for (const line of text.split("\n")) {
    const m = /^alias\s+(\S+)\s+(\S+)/.exec(line);
    if (m) out.push({ pattern: fnmatchRegExp(m[1]!), module: m[2]!.replace(/-/g, "_") });
  }
  return out;
}

/**
 * Folders whose modules drive storage: where a block device's bus and disk drivers live. Scanned for `alias=` when
 * the release has no modules.alias (reading every module of a release would take tens of seconds for .ko.xz).
 */
const STORAGE_DRIVER_DIRS = ["drivers/block", "drivers/nvme", "drivers/scsi", "drivers/ata", "drivers/virtio", "drivers/md", "drivers/mmc", "drivers/usb/storage"];

const scanned = new WeakMap<ModuleIndex, AliasEntry[]>();

/**
 * The alias table of a release: its modules.alias, else the `alias=` of every storage driver module in `idx`.
 * @example aliasTable(moduleIndex("/lib/modules/6.1.0-56-cloud-amd64")).length
 */
export function aliasTable(idx: ModuleIndex): AliasEntry[] {
  const file = join(idx.dir, "modules.alias");
  if (existsSync(file)) return parseModulesAlias(readFileSync(file, "utf8"));
  const cached = scanned.get(idx);
  if (cached) return cached;
  const out: AliasEntry[] = [];
  scanned.set(idx, out);
  for (const [name, path] of idx.files) {
    const rel = relative(idx.dir, path).replace(/^(kernel|updates|extra)\//, "");
    if (!STORAGE_DRIVER_DIRS.some((d) => rel.startsWith(d + "/"))) continue;
    for (const [k, v] of modinfo(moduleBytes(path))) if (k === "alias") out.push({ pattern: fnmatchRegExp(v), module: name });
  }
  return out;
}

/**
 * The modules whose aliases match `modalias`, as modprobe would load them (every match).
 * @example modulesForAlias("virtio:d00000002v00001AF4", table) // ["virtio_blk"]
 */
export function modulesForAlias(modalias: string, table: AliasEntry[]): string[] {
  const out = new Set<string>();
  for (const a of table) if (a.pattern.test(modalias)) out.add(a.module);
  return [...out];
}
