// Page compressors for the kdump-compressed writer, by the names `kdump collect --compress` takes, each with its
// page_desc flag and makedumpfile's settings: zlib at Z_BEST_SPEED (compress2 of the system's libz; without it,
// libdeflate's level 2), LZO1X-1, zstd level 1.
import { Lzo1xCompressor } from "./lzo_compress.ts";
import { haveLiblzo2, NativeLzo1xCompressor } from "../../sys/liblzo2.ts";
import { haveLibzstd, NativeZstdCompressor } from "../../sys/libzstd.ts";
import { haveLibz, NativeZlibCompressor } from "../../sys/libz.ts";

/** The --compress names. */
export type CompressName = "zstd" | "zlib" | "lzo" | "none";

/** The compression names, default first. */
export const COMPRESS_NAMES: CompressName[] = ["zstd", "zlib", "lzo", "none"];

/** Compresses pages one at a time. Create one per thread: it may keep state between calls. */
export interface PageCompressor {
  /** Its name. */
  name: CompressName;
  /** page_desc.flags and disk_dump_header.status bit (0 for none). */
  flag: number;
  /** The compressed bytes (possibly larger than the page; the writer then stores the page raw). */
  compress(page: Uint8Array): Uint8Array;
  /**
   * When the codec can: compresses into `dst` at `at`, which has room for a page and a quarter (more than any
   * codec's worst case for a page), and returns the length. No array per page (what compress() returns is garbage
   * once written).
   */
  compressInto?(page: Uint8Array, dst: Uint8Array, at: number): number;
}

/** Room a compressInto() call needs after `at`, for a page of `pageSize` bytes. */
export const intoRoom = (pageSize: number): number => pageSize + (pageSize >>> 2);

/** zlib's header for deflate with a 32 KiB window at level 1 (CMF 0x78, FLG 0x01), as compress2() writes it. */
const ZLIB_HEADER_FAST = [0x78, 0x01];

/** Adler-32 of `data` (RFC 1950), the zlib stream's trailer. */
export function adler32(data: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (let i = 0; i < data.length; ) {
    const end = Math.min(data.length, i + 5552); // the most bytes before the sums can overflow 2^32
    for (; i < end; i++) {
      a += data[i]!;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/**
 * Without the system's libz: a zlib stream (RFC 1950) as small as makedumpfile's compress2(…, Z_BEST_SPEED), by
 * Bun's libdeflate at level 2 in the zlib wrapper. Bun's zlib (zlib-ng) makes pages ~29% larger than Debian's
 * zlib at level 1 (its level 1 is a quick static-Huffman mode). libdeflate's level 1 (a one-entry hash table) was
 * 1–6% larger than makedumpfile on the lab dumps; level 2 (hash chains) is 1–3% smaller and as fast (bench/collect.ts).
 */
export function zlibCompress(page: Uint8Array): Uint8Array {
  const raw = Bun.deflateSync(page as Uint8Array<ArrayBuffer>, { level: 2, library: "libdeflate" } as Parameters<typeof Bun.deflateSync>[1]);
  const out = new Uint8Array(raw.length + 6);
  out.set(ZLIB_HEADER_FAST, 0);
  out.set(raw, 2);
  new DataView(out.buffer).setUint32(raw.length + 2, adler32(page)); // big-endian, as RFC 1950 says
  return out;
}

/**
 * A compressor by name.
 * @example pageCompressor("zstd").compress(page)
 */
export function pageCompressor(name: CompressName): PageCompressor {
  switch (name) {
    case "zlib": {
      // the system's libz when it is there: makedumpfile's call, its bytes; else libdeflate
      if (!haveLibz()) return { name, flag: 0x1, compress: zlibCompress };
      const z = new NativeZlibCompressor();
      return { name, flag: 0x1, compress: (p) => z.compress(p), compressInto: (p, dst, at) => z.compressInto(p, dst, at) };
    }
    case "lzo": {
      // the system's liblzo2 when it is there (~4x faster), else ours: the same LZO1X-1 stream
      const lzo = haveLiblzo2() ? new NativeLzo1xCompressor() : new Lzo1xCompressor();
      return lzo instanceof NativeLzo1xCompressor
        ? { name, flag: 0x2, compress: (p) => lzo.compress(p), compressInto: (p, dst, at) => lzo.compressInto(p, dst, at) }
        : { name, flag: 0x2, compress: (p) => lzo.compress(p) };
    }
    case "zstd": {
      // the system's libzstd when it is there: one context for every page, no array per page; else Bun's zstd
      if (!haveLibzstd()) return { name, flag: 0x20, compress: (p) => Bun.zstdCompressSync(p, { level: 1 }) };
      const z = new NativeZstdCompressor(1);
      return { name, flag: 0x20, compress: (p) => z.compress(p), compressInto: (p, dst, at) => z.compressInto(p, dst, at) };
    }
    case "none":
      return { name, flag: 0, compress: (p) => p };
  }
}
