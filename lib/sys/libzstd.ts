// zstd page compression through the system's libzstd.so.1 (bun:ffi), the library makedumpfile -z links: one
// compression context made once and reused for every page, each page compressed straight into the caller's
// buffer. Bun.zstdCompressSync makes a context and a result array per call (a page's compressed copy is garbage
// once written, and the context's tables are allocated and freed per page): in a TCG lab guest that was 28% of a
// capture (bench/scale.ts --profile, 2026-12-01). The frames are the same bytes: ZSTD_compressCCtx at level 1 with
// the whole page known (libzstd 1.5.4 and Bun's gave identical frames on 20000 pages of a lab dump). libzstd 1.4+.
import { dlopen, FFIType, ptr } from "bun:ffi";
import { optionalLibrary } from "./optional_library.ts";

const library = optionalLibrary(open, "KDUMP_NO_LIBZSTD");
function open() {
  return dlopen("libzstd.so.1", {
    ZSTD_createCCtx: { args: [], returns: FFIType.ptr },
    // size_t ZSTD_compressCCtx(ZSTD_CCtx*, void* dst, size_t dstCapacity, const void* src, size_t srcSize, int level)
    // returned as a signed number: an error code is a size_t of -1 … -120, so no second FFI call per page
    // (ZSTD_isError) and no BigInt per page
    ZSTD_compressCCtx: { args: [FFIType.ptr, FFIType.ptr, FFIType.u64, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i64_fast },
    ZSTD_versionNumber: { args: [], returns: FFIType.u32 },
  });
}

/** True when libzstd.so.1 can be opened here (KDUMP_NO_LIBZSTD=1 says no, to test the fallback). */
export function haveLibzstd(): boolean {
  return library() !== null;
}

/** The version of the libzstd.so.1 loaded here ("1.5.4"), or null without one: its speed differs by release. */
export function libzstdVersion(): string | null {
  if (!haveLibzstd()) return null;
  const n = library()!.symbols.ZSTD_versionNumber();
  return `${Math.floor(n / 10000)}.${Math.floor(n / 100) % 100}.${n % 100}`;
}

/** A reusable libzstd compressor at one level: its context is allocated once (never freed: one per thread). */
export class NativeZstdCompressor {
  private readonly fns = library()!.symbols;
  private readonly cctx: NonNullable<ReturnType<ReturnType<typeof open>["symbols"]["ZSTD_createCCtx"]>>;

  /** Throws when libzstd.so.1 is not there: check haveLibzstd() first. */
  constructor(readonly level = 1) {
    if (!haveLibzstd()) throw new Error("libzstd.so.1 not found");
    const c = this.fns.ZSTD_createCCtx();
    if (!c) throw new Error("ZSTD_createCCtx failed");
    this.cctx = c;
  }

  /** The most bytes a frame of `n` input bytes can take (zstd.h ZSTD_COMPRESSBOUND, computed here: no FFI call). */
  static bound(n: number): number {
    return n + (n >>> 8) + (n < 128 << 10 ? ((128 << 10) - n) >>> 11 : 0);
  }

  /**
   * Compresses `src` into `dst` at `at`, which must have room for NativeZstdCompressor.bound(src.length)
   * bytes; returns the frame's length.
   * @example const n = z.compressInto(page, out, pos)
   */
  compressInto(src: Uint8Array, dst: Uint8Array, at: number): number {
    const room = dst.length - at;
    if (room < NativeZstdCompressor.bound(src.length)) throw new RangeError(`${room} bytes of room for a zstd frame of ${src.length} bytes`);
    const n = Number(this.fns.ZSTD_compressCCtx(this.cctx, ptr(dst, at), room, src.length ? ptr(src) : ptr(dst, at), src.length, this.level));
    // what ZSTD_isError() tests: a result above (size_t)-ZSTD_error_maxCode, read signed here as -1 … -120
    if (n < 0) throw new Error(`ZSTD_compressCCtx failed (zstd error ${-n})`);
    return n;
  }

  /**
   * Compresses `src` into a new array.
   * @example new NativeZstdCompressor().compress(page)
   */
  compress(src: Uint8Array): Uint8Array {
    const out = new Uint8Array(NativeZstdCompressor.bound(src.length));
    return out.slice(0, this.compressInto(src, out, 0));
  }
}
