// LZO1X-1 page compression through the system's liblzo2.so.2 (bun:ffi): the library makedumpfile -l links, about 4x
// faster than our TypeScript lzo1x_1_compress (lib/dump/codecs/lzo_compress.ts), which stays the fallback on a box
// (or a capture initramfs) without the library. liblzo2 2.x; LZO1X-1 output is the same stream format either way.
import { dlopen, FFIType, ptr } from "bun:ffi";
import { optionalLibrary } from "./optional_library.ts";
import { lzo1xBound } from "../dump/codecs/lzo_compress.ts";

/** LZO1X_1_MEM_COMPRESS on 64-bit: 16384 dictionary entries of one pointer each (lzo1x.h). */
const LZO1X_1_MEM_COMPRESS = 16384 * 8;

const library = optionalLibrary(open, "KDUMP_NO_LIBLZO2");
function open() {
  return dlopen("liblzo2.so.2", {
    // int lzo1x_1_compress(const lzo_bytep src, lzo_uint src_len, lzo_bytep dst, lzo_uintp dst_len, lzo_voidp wrkmem)
    lzo1x_1_compress: { args: [FFIType.ptr, FFIType.u64, FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  });
}

/** True when liblzo2.so.2 can be opened here (KDUMP_NO_LIBLZO2=1 says no, to test the fallback). */
export function haveLiblzo2(): boolean {
  return library() !== null;
}

/** A reusable liblzo2 LZO1X-1 compressor: its work memory and output buffer are allocated once. */
export class NativeLzo1xCompressor {
  private readonly wrk = new Uint8Array(LZO1X_1_MEM_COMPRESS);
  private readonly outLen = new BigUint64Array(1);
  private out = new Uint8Array(lzo1xBound(4096));

  /** Throws when liblzo2.so.2 is not there: check haveLiblzo2() first. */
  constructor() {
    if (!haveLiblzo2()) throw new Error("liblzo2.so.2 not found");
  }

  /**
   * Compresses `src` into a new array.
   * @example new NativeLzo1xCompressor().compress(page)
   */
  compress(src: Uint8Array): Uint8Array {
    if (this.out.length < lzo1xBound(src.length)) this.out = new Uint8Array(lzo1xBound(src.length));
    return this.out.slice(0, this.compressInto(src, this.out, 0));
  }

  /**
   * Compresses `src` into `dst` at `at`, which must have room for lzo1xBound(src.length) bytes; returns the length.
   * @example const n = lzo.compressInto(page, out, pos)
   */
  compressInto(src: Uint8Array, dst: Uint8Array, at: number): number {
    if (dst.length - at < lzo1xBound(src.length)) throw new RangeError(`${dst.length - at} bytes of room for LZO1X-1 output of ${src.length} bytes`);
    const r = library()!.symbols.lzo1x_1_compress(ptr(src.length ? src : this.wrk), src.length, ptr(dst, at), ptr(this.outLen), ptr(this.wrk));
    // lzo1x_1_compress has no failure but a broken library (LZO_E_OK is 0)
    if (r !== 0) throw new Error(`lzo1x_1_compress returned ${r}`);
    return Number(this.outLen[0]);
  }
}
