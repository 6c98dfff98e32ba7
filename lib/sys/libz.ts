// zlib page compression through the system's libz.so.1 (bun:ffi), as makedumpfile -c compresses: deflate at
// Z_BEST_SPEED with zlib's defaults (a 32 KiB window, memLevel 8), each page one whole zlib stream, so each page is
// the same bytes as makedumpfile's compress2(…, Z_BEST_SPEED). One z_stream is made once and reset per page
// (deflateReset leaves it as deflateInit made it): compress2 itself allocates and frees ~270 KiB of state per call,
// which in our threaded collector cost 680 s of worker CPU in a 64 GiB TCG capture (2026-12-02) where makedumpfile's
// whole run took 53 s. Without the library (or with KDUMP_NO_LIBZ=1) the writer falls back to Bun's libdeflate
// (zlibCompress in lib/dump/codecs/compress.ts), whose pages differ from makedumpfile's by a few percent.
// Any zlib 1.2/1.3; LP64 little-endian only (the z_stream layout below), as are x86_64 and arm64.
import { dlopen, FFIType, ptr } from "bun:ffi";
import { optionalLibrary } from "./optional_library.ts";

/** Z_BEST_SPEED: makedumpfile's level. */
const Z_BEST_SPEED = 1;
const Z_OK = 0;
const Z_STREAM_END = 1;
const Z_FINISH = 4;
/** sizeof(z_stream) on LP64, and the offsets of the fields set or read per page (zlib.h). */
const Z_STREAM_SIZE = 112;
const NEXT_IN = 0;
const AVAIL_IN = 8;
const NEXT_OUT = 24;
const AVAIL_OUT = 32;
const TOTAL_OUT = 40;

const library = optionalLibrary(open, "KDUMP_NO_LIBZ");
function open() {
  return dlopen("libz.so.1", {
    zlibVersion: { args: [], returns: FFIType.ptr },
    // int deflateInit_(z_streamp strm, int level, const char *version, int stream_size): deflateInit's function
    deflateInit_: { args: [FFIType.ptr, FFIType.i32, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
    deflate: { args: [FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
    deflateReset: { args: [FFIType.ptr], returns: FFIType.i32 },
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

/** Writes a pointer into a z_stream field as two words (no BigInt per page). */
function setPointer(v: DataView, at: number, p: number): void {
  v.setUint32(at, p % 2 ** 32, true);
  v.setUint32(at + 4, Math.floor(p / 2 ** 32), true);
}

/** A libz deflater at Z_BEST_SPEED, each page into the caller's buffer (one per thread: its state is never freed). */
export class NativeZlibCompressor {
  private readonly fns = library()!.symbols;
  private readonly stream = new Uint8Array(Z_STREAM_SIZE);
  private readonly view = new DataView(this.stream.buffer);

  /** Throws when libz.so.1 is not there: check haveLibz() first. */
  constructor() {
    if (!haveLibz()) throw new Error("libz.so.1 not found");
    const r = this.fns.deflateInit_(ptr(this.stream), Z_BEST_SPEED, this.fns.zlibVersion(), Z_STREAM_SIZE);
    if (r !== Z_OK) throw new Error(`deflateInit returned ${r}`);
  }

  /**
   * Compresses `src` into `dst` at `at`, which must have room for zlibBound(src.length) bytes; returns the length.
   * @example const n = z.compressInto(page, out, pos)
   */
  compressInto(src: Uint8Array, dst: Uint8Array, at: number): number {
    const room = dst.length - at;
    if (room < zlibBound(src.length)) throw new RangeError(`${room} bytes of room for a zlib stream of ${src.length} bytes`);
    const v = this.view;
    setPointer(v, NEXT_IN, src.length ? ptr(src) : ptr(dst, at));
    v.setUint32(AVAIL_IN, src.length, true);
    setPointer(v, NEXT_OUT, ptr(dst, at));
    v.setUint32(AVAIL_OUT, room, true);
    const r = this.fns.deflate(ptr(this.stream), Z_FINISH);
    const n = v.getUint32(TOTAL_OUT, true);
    if (this.fns.deflateReset(ptr(this.stream)) !== Z_OK || r !== Z_STREAM_END) throw new Error(`deflate returned ${r}`);
    return n;
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
