// zlib page compression through the system's libz.so.1 (bun:ffi): compress2() at Z_BEST_SPEED, the call and the
// library makedumpfile -c makes, so each page's stream is the same bytes as makedumpfile's. Without the library (or
// with KDUMP_NO_LIBZ=1) the writer falls back to Bun's libdeflate (zlibCompress in lib/dump/codecs/compress.ts),
// whose pages differ from makedumpfile's by a few percent. In a 64 GiB TCG capture (2026-12-02) the fallback's
// workers spent 110 s of CPU where makedumpfile's whole run took 46 s: libdeflate plus an Adler-32 in JavaScript.
// Any zlib 1.x; LP64 little-endian only (destLen is an unsigned long), as are x86_64 and arm64.
import { dlopen, FFIType, ptr } from "bun:ffi";
import { optionalLibrary } from "./optional_library.ts";

/** Z_BEST_SPEED: makedumpfile's level. */
const Z_BEST_SPEED = 1;
/** Z_OK. */
const Z_OK = 0;

const library = optionalLibrary(open, "KDUMP_NO_LIBZ");
function open() {
  return dlopen("libz.so.1", {
    // int compress2(Bytef *dest, uLongf *destLen, const Bytef *source, uLong sourceLen, int level)
    compress2: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
  });
}

/** True when libz.so.1 can be opened here (KDUMP_NO_LIBZ=1 says no, to test the fallback). */
export function haveLibz(): boolean {
  return library() !== null;
}

/** compressBound() of zlib 1.2.x/1.3.x for `n` input bytes, computed here: no FFI call. */
export function zlibBound(n: number): number {
  return n + (n >>> 12) + (n >>> 14) + (n >>> 25) + 13;
}

/** A libz compressor at Z_BEST_SPEED, each page into the caller's buffer. */
export class NativeZlibCompressor {
  private readonly fns = library()!.symbols;
  /** The uLongf compress2 reads the room from and writes the length to, as two words (little-endian: no BigInt). */
  private readonly destLen = new Uint32Array(2);

  /** Throws when libz.so.1 is not there: check haveLibz() first. */
  constructor() {
    if (!haveLibz()) throw new Error("libz.so.1 not found");
  }

  /**
   * Compresses `src` into `dst` at `at`, which must have room for zlibBound(src.length) bytes; returns the length.
   * @example const n = z.compressInto(page, out, pos)
   */
  compressInto(src: Uint8Array, dst: Uint8Array, at: number): number {
    const room = dst.length - at;
    if (room < zlibBound(src.length)) throw new RangeError(`${room} bytes of room for a zlib stream of ${src.length} bytes`);
    this.destLen[0] = room;
    this.destLen[1] = 0;
    const r = this.fns.compress2(ptr(dst, at), ptr(this.destLen), src.length ? ptr(src) : ptr(dst, at), src.length, Z_BEST_SPEED);
    if (r !== Z_OK) throw new Error(`compress2 returned ${r}`);
    return this.destLen[0]!;
  }

  /**
   * Compresses `src` into a new array.
   * @example new NativeZlibCompressor().compress(page)
   */
  compress(src: Uint8Array): Uint8Array {
    const out = new Uint8Array(zlibBound(src.length));
    return out.slice(0, this.compressInto(src, out, 0));
  }
}
