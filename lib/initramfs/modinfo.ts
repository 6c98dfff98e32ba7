// A kernel module's .modinfo section (NUL-separated key=value strings in the ELF64 .ko), read from .ko, .ko.xz,
// .ko.zst or .ko.gz files. Used where modules.dep is absent (Debian's linux-image packages ship none).
import { readFileSync } from "node:fs";
import { BadDataError, MissingDataError } from "../errors.ts";
import { haveLiblzma, xzDecompress } from "../sys/liblzma.ts";

/** Decompresses .ko.xz (liblzma in-process; xz or busybox xz without it), .ko.zst (Bun's zstd) and .ko.gz; plain .ko is returned as read. */
export function moduleBytes(path: string): Uint8Array {
  const raw = readFileSync(path);
  if (path.endsWith(".ko")) return raw;
  if (path.endsWith(".zst")) return Bun.zstdDecompressSync(raw);
  if (path.endsWith(".gz")) return Bun.gunzipSync(raw);
  if (path.endsWith(".xz")) {
    const out = haveLiblzma() ? xzDecompress(raw) : xzByProgram(raw);
    if (out) return out;
    throw new MissingDataError(`cannot decompress ${path}`, { hint: "install liblzma5 (apt-get install liblzma5) to read .ko.xz modules" });
  }
  throw new BadDataError(`${path} is not a kernel module file`, { hint: "expected .ko, .ko.xz, .ko.zst or .ko.gz" });
}

/** The last resort without liblzma: an xz binary, else busybox's xz applet; null when neither decompresses `raw`. */
function xzByProgram(raw: Uint8Array): Uint8Array | null {
  for (const cmd of [["xz", "-dc"], ["busybox", "xz", "-dc"]]) {
    try {
      const r = Bun.spawnSync(cmd, { stdin: raw, stdout: "pipe", stderr: "pipe" });
      if (r.exitCode === 0 && r.success) return r.stdout;
    } catch {
      continue; // spawnSync throws when the program does not exist
    }
  }
  return null;
}

/** An xz stream of no data (`printf '' | xz`), to ask whether a fallback decompresses at all. */
const EMPTY_XZ = Uint8Array.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, 0x04, 0xe6, 0xd6, 0xb4, 0x46, 0x00, 0x00, 0x00, 0x00, 0x1c, 0xdf, 0x44, 0x21, 0x1f, 0xb6, 0xf3, 0x7d, 0x01, 0x00, 0x00, 0x00, 0x00, 0x04, 0x59, 0x5a]);

/**
 * How this machine reads .ko.xz modules, as moduleBytes() would: "liblzma", "program" (xz or busybox xz), or null.
 * @example xzSupport() // "liblzma" on any box with dpkg or rpm
 */
export function xzSupport(): "liblzma" | "program" | null {
  if (haveLiblzma()) return "liblzma";
  return xzByProgram(EMPTY_XZ) ? "program" : null;
}

/**
 * The .modinfo strings of an ELF64 little-endian module as [key, value] pairs, in file order (keys repeat: alias=…).
 * @example modinfo(moduleBytes("virtio_blk.ko")).find(([k]) => k === "depends") // ["depends", "virtio,virtio_ring"]
 */
export function modinfo(ko: Uint8Array): [string, string][] {
  const v = new DataView(ko.buffer, ko.byteOffset, ko.byteLength);
  const LE = true;
  if (ko.length < 64 || v.getUint32(0, false) !== 0x7f454c46 || ko[4] !== 2 || ko[5] !== 1)
    throw new BadDataError("not an ELF64 little-endian module", { hint: "is the file a kernel module (.ko)?" });
  const shoff = Number(v.getBigUint64(0x28, LE)); // e_shoff (8)
  const shentsize = v.getUint16(0x3a, LE); // e_shentsize (2)
  const shnum = v.getUint16(0x3c, LE); // e_shnum (2)
  const shstrndx = v.getUint16(0x3e, LE); // e_shstrndx (2)
  if (shoff + shnum * shentsize > ko.length || shstrndx >= shnum) throw new BadDataError("module section headers past the end of the file");
  // Elf64_Shdr: sh_name (4) @0, sh_type (4) @4, sh_flags (8) @8, sh_addr (8) @16, sh_offset (8) @24, sh_size (8) @32
  const sec = (i: number) => ({
    name: v.getUint32(shoff + i * shentsize, LE),
    offset: Number(v.getBigUint64(shoff + i * shentsize + 24, LE)),
    size: Number(v.getBigUint64(shoff + i * shentsize + 32, LE)),
  });
  const strtab = sec(shstrndx);
  const dec = new TextDecoder();
  const nameAt = (o: number) => dec.decode(ko.subarray(strtab.offset + o, ko.indexOf(0, strtab.offset + o)));
  for (let i = 0; i < shnum; i++) {
    const s = sec(i);
    if (nameAt(s.name) !== ".modinfo") continue;
    if (s.offset + s.size > ko.length) throw new BadDataError(".modinfo past the end of the module");
    return dec
      .decode(ko.subarray(s.offset, s.offset + s.size))
      .split("\0")
      .filter((x) => x.includes("="))
      .map((x) => [x.slice(0, x.indexOf("=")), x.slice(x.indexOf("=") + 1)] as [string, string]);
  }
  return [];
}

/** The module names in `depends=` (empty when none). */
export function moduleDepends(info: [string, string][]): string[] {
  const d = info.find(([k]) => k === "depends")?.[1] ?? "";
  return d.split(",").filter(Boolean);
}

/** The modules a `softdep=pre: a b post: c` asks to load before this one. */
export function modulePreSoftdeps(info: [string, string][]): string[] {
  const out: string[] = [];
  for (const [k, v] of info) {
    if (k !== "softdep") continue;
    const m = /pre:\s*([^:]*?)(?:\s+post:|$)/.exec(v);
    if (m) out.push(...m[1]!.trim().split(/\s+/).filter(Boolean));
  }
  return out;
}
