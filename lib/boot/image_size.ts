// How much memory a capture kernel image and its initramfs take once loaded: the kernel's in-memory size from its
// own header (x86 bzImage init_size via setup_header.ts, boot protocol 2.12+ / 3.8+; arm64 Image image_size; ELF PT_LOAD sizes),
// and the initramfs's unpacked size and kernel modules (newc cpio, plain, gzip or zstd, concatenated as the kernel allows).

import { readSetupHeader } from "../arch/x86_64/setup_header.ts";

/** A kernel image's size in memory, and how it was found. */
export interface KernelImageSize {
  /** Bytes the kernel occupies once decompressed and running (text, data, bss). */
  bytes: number;
  /** "bzImage init_size", "arm64 image_size", "ELF PT_LOAD", or "file size ×4 (unknown format)". */
  from: string;
}

/**
 * The in-memory size of a kernel image file (bzImage, arm64 Image, ELF vmlinux).
 * @example kernelImageSize(readFileSync("/boot/vmlinuz-6.1.0-56-cloud-amd64")).from // "bzImage init_size"
 */
export function kernelImageSize(img: Uint8Array): KernelImageSize {
  const v = new DataView(img.buffer, img.byteOffset, img.byteLength); // x86, arm64 and our ELF readers: little-endian
  const ascii = (at: number, n: number) => String.fromCharCode(...img.subarray(at, at + n));
  const bz = readSetupHeader(img);
  if (typeof bz !== "string") return { bytes: bz.initSize, from: "bzImage init_size" };
  // arm64 Image header: text_offset u64 @8, image_size u64 @16 (0 before 3.17), magic "ARM\x64" @0x38.
  if (img.length > 0x40 && ascii(0x38, 4) === "ARM\x64" && v.getBigUint64(16, true) > 0n)
    return { bytes: Number(v.getBigUint64(16, true)), from: "arm64 image_size" };
  // ELF64: e_phoff @0x20, e_phentsize @0x36, e_phnum @0x38; each Elf64_Phdr: p_type @0, p_memsz @0x28.
  if (img.length > 0x40 && ascii(0, 4) === "\x7fELF" && img[4] === 2) {
    const phoff = Number(v.getBigUint64(0x20, true));
    const entsize = v.getUint16(0x36, true);
    let bytes = 0;
    for (let i = 0; i < v.getUint16(0x38, true); i++) {
      const p = phoff + i * entsize;
      if (v.getUint32(p, true) === 1) bytes += Number(v.getBigUint64(p + 0x28, true));
    }
    return { bytes, from: "ELF PT_LOAD" };
  }
  return { bytes: img.length * 4, from: "file size ×4 (unknown format)" };
}

/** What an initramfs holds. */
export interface InitramfsSize {
  /** Bytes of the file as loaded (what sits in the reservation before unpacking). */
  bytes: number;
  /** Bytes of all files once unpacked into the rootfs tmpfs, or null when a part could not be read. */
  unpacked: number | null;
  /** Bytes of kernel modules once decompressed (.ko, .ko.gz, .ko.zst, .ko.xz by its index). */
  modules: number;
  /** Number of module files. */
  moduleCount: number;
  /** Compressions met, in order ("none", "gzip", "zstd", or the name of one that could not be read). */
  formats: string[];
}

const MAGIC: [string, number[]][] = [
  ["gzip", [0x1f, 0x8b]],
  ["zstd", [0x28, 0xb5, 0x2f, 0xfd]],
  ["xz", [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ["lz4", [0x02, 0x21, 0x4c, 0x18]],
  ["bzip2", [0x42, 0x5a, 0x68]],
  ["lzma", [0x5d, 0x00, 0x00]],
];

/**
 * Measures an initramfs: newc cpio archives, each plain or compressed, one after another (an early microcode
 * archive is usually plain and followed by a compressed main one), as init/initramfs.c unpacks them.
 */
export function initramfsSize(img: Uint8Array): InitramfsSize {
  const r: InitramfsSize = { bytes: img.length, unpacked: 0, modules: 0, moduleCount: 0, formats: [] };
  let data = img;
  let at = 0;
  while (at < data.length) {
    if (data[at] === 0) {
      at++;
      continue;
    }
    const head = String.fromCharCode(...data.subarray(at, at + 6));
    if (head === "070701" || head === "070702") {
      if (data === img && r.formats.at(-1) !== "none") r.formats.push("none");
      at = readCpio(data, at, r);
      continue;
    }
    const fmt = MAGIC.find(([, m]) => m.every((b, i) => data[at + i] === b))?.[0] ?? "unknown";
    r.formats.push(fmt);
    try {
      if (fmt === "gzip") data = new Uint8Array(Bun.gunzipSync(data.subarray(at) as Uint8Array<ArrayBuffer>));
      else if (fmt === "zstd") data = Bun.zstdDecompressSync(data.subarray(at));
      else throw new Error(fmt);
    } catch {
      r.unpacked = null;
      return r;
    }
    at = 0;
  }
  return r;
}

/** Reads one newc archive from `at` up to its TRAILER!!!; adds its sizes to `r`; returns the offset after it. */
function readCpio(d: Uint8Array, at: number, r: InitramfsSize): number {
  const hex = (o: number) => Number.parseInt(String.fromCharCode(...d.subarray(o, o + 8)), 16);
  const pad4 = (n: number) => (n + 3) & ~3;
  while (at + 110 <= d.length) {
    // newc header: magic(6) ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check (8 hex each)
    const mode = hex(at + 14);
    const filesize = hex(at + 54);
    const namesize = hex(at + 94);
    const name = String.fromCharCode(...d.subarray(at + 110, at + 110 + namesize - 1));
    const dataAt = pad4(at + 110 + namesize);
    at = pad4(dataAt + filesize);
    if (name === "TRAILER!!!") break;
    if ((mode & 0o170000) !== 0o100000) continue;
    if (r.unpacked !== null) r.unpacked += filesize;
    if (/\.ko(\.(gz|zst|xz))?$/.test(name)) {
      r.moduleCount++;
      r.modules += moduleSize(d.subarray(dataAt, dataAt + filesize), name);
    }
  }
  return at;
}

function moduleSize(file: Uint8Array, name: string): number {
  try {
    if (name.endsWith(".gz")) return Bun.gunzipSync(file as Uint8Array<ArrayBuffer>).length;
    if (name.endsWith(".zst")) return Bun.zstdDecompressSync(file).length;
    if (name.endsWith(".xz")) return xzUncompressedSize(file) ?? file.length * 3;
  } catch {
    return file.length * 3;
  }
  return file.length;
}

/**
 * The uncompressed size an .xz file records in its index (no decompression): the stream footer ends in "YZ"
 * with the index size at -8; the index is 0x00, a record count, then (unpadded, uncompressed) size pairs,
 * all as 7-bit little-endian varints.
 */
export function xzUncompressedSize(f: Uint8Array): number | null {
  const n = f.length;
  if (n < 24 || f[n - 2] !== 0x59 || f[n - 1] !== 0x5a) return null;
  const backward = new DataView(f.buffer, f.byteOffset + n - 8, 4).getUint32(0, true);
  let at = n - 12 - (backward + 1) * 4;
  if (at < 12 || f[at] !== 0) return null;
  at++;
  const varint = () => {
    let v = 0;
    for (let shift = 0; shift < 63; shift += 7) {
      const b = f[at++]!;
      v += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) return v;
    }
    return v;
  };
  let total = 0;
  for (let records = varint(); records > 0; records--) {
    varint(); // unpadded size
    total += varint();
  }
  return total;
}
