// The arm64 kernel Image and its header (Documentation/arch/arm64/booting.rst, Linux 3.17+ for image_size), and
// EFI zboot images (Linux 6.1+, CONFIG_EFI_ZBOOT: a PE/COFF "zimg" wrapper around a compressed Image) unwrapped to
// the Image inside. Debian ships plain Images (6.1, 6.12, 7.2); Fedora and others ship zboot ones.

/** What the 64-byte Image header says. */
export interface Arm64ImageHeader {
  /** Where the kernel expects to sit above a 2 MiB aligned base (0x80000 before 5.8, 0 since). */
  textOffset: bigint;
  /** Bytes the kernel occupies once running (text, data, bss); 0 in pre-3.17 images. */
  imageSize: bigint;
  /** Kernel page size from flags bits 1–2: 4096, 16384, 65536, or 0 when unspecified. */
  pageSize: number;
  /** flags bit 0: a big-endian kernel. */
  bigEndian: boolean;
  /** flags bit 3: the image may sit anywhere in physical memory (else within 48 bits of DRAM's start). */
  anywhere: boolean;
}

/** "ARM\x64" at 0x38 (ARM64_IMAGE_MAGIC). */
const IMAGE_MAGIC = 0x644d5241;

/**
 * The header of an arm64 Image, or null when `image` is not one.
 * @example parseArm64Image(readFileSync("/boot/vmlinuz-6.1.0-56-arm64"))?.pageSize // 4096
 */
export function parseArm64Image(image: Uint8Array): Arm64ImageHeader | null {
  if (image.length < 64) return null;
  const v = new DataView(image.buffer, image.byteOffset, 64);
  if (v.getUint32(0x38, true) !== IMAGE_MAGIC) return null;
  const flags = v.getBigUint64(24, true); // flags (8)
  return {
    textOffset: v.getBigUint64(8, true), // text_offset (8)
    imageSize: v.getBigUint64(16, true), // image_size (8)
    pageSize: [0, 4096, 16384, 65536][Number((flags >> 1n) & 3n)]!,
    bigEndian: (flags & 1n) === 1n,
    anywhere: ((flags >> 3n) & 1n) === 1n,
  };
}

/** An EFI zboot image's wrapper (drivers/firmware/efi/libstub/zboot-header.S). */
export interface ZbootHeader {
  /** The payload's compression, as the header names it ("gzip", "zstd", "lz4", "xz", "lzma", "lzo", "bzip2"). */
  compression: string;
  /** File offset of the compressed Image. */
  payloadOffset: number;
  /** Its length in bytes. */
  payloadSize: number;
}

/**
 * The zboot wrapper of `file`, or null when it is not one: "MZ", "zimg" at 4, payload offset and size at 8 and 12,
 * the compression's name NUL-terminated at 24.
 */
export function parseZboot(file: Uint8Array): ZbootHeader | null {
  if (file.length < 64 || file[0] !== 0x4d || file[1] !== 0x5a) return null;
  if (String.fromCharCode(...file.subarray(4, 8)) !== "zimg") return null;
  const v = new DataView(file.buffer, file.byteOffset, 64);
  const end = file.subarray(24, 56).indexOf(0);
  const compression = String.fromCharCode(...file.subarray(24, 24 + (end < 0 ? 32 : end)));
  const payloadOffset = v.getUint32(8, true);
  const payloadSize = v.getUint32(12, true);
  if (payloadOffset + payloadSize > file.length) throw new RangeError(`zboot payload [${payloadOffset}, +${payloadSize}) runs past the file's ${file.length} bytes`);
  return { compression, payloadOffset, payloadSize };
}

/**
 * The arm64 Image in `file`: the file itself when it is an Image, the decompressed payload of a gzip or zstd zboot
 * image or of a gzip'd Image (Image.gz, as some distributions install vmlinuz); throws a RangeError naming the
 * format otherwise.
 * @example parseArm64Image(arm64Image(readFileSync("/boot/vmlinuz-6.12.0-55.el10.aarch64")))
 */
export function arm64Image(file: Uint8Array): Uint8Array {
  if (parseArm64Image(file)) return file;
  if (file[0] === 0x1f && file[1] === 0x8b) {
    const out = Bun.gunzipSync(file as Uint8Array<ArrayBuffer>);
    if (!parseArm64Image(out)) throw new RangeError("a gzip file that does not hold an arm64 Image");
    return out;
  }
  const z = parseZboot(file);
  if (!z) throw new RangeError("not an arm64 Image (no ARM\\x64 magic at 0x38), gzip'd Image nor EFI zboot image (no MZ…zimg)");
  const payload = file.subarray(z.payloadOffset, z.payloadOffset + z.payloadSize);
  let out: Uint8Array;
  if (z.compression === "gzip") out = Bun.gunzipSync(payload as Uint8Array<ArrayBuffer>);
  else if (z.compression === "zstd" || z.compression === "zstd22") out = Bun.zstdDecompressSync(payload);
  else throw new RangeError(`zboot payload compressed with ${z.compression}: only gzip and zstd are read`);
  if (!parseArm64Image(out)) throw new RangeError(`zboot payload (${z.compression}) does not hold an arm64 Image`);
  return out;
}
