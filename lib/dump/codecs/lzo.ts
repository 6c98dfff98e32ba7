// LZO1X pages (DUMP_DH_COMPRESSED_LZO): makedumpfile compresses with liblzo2's lzo1x_1_compress. A small safe
// decompressor written from the LZO1X stream format (Linux Documentation/staging/lzo.rst); no registry package
// fits: npm's "lzo" is a native addon and "lzo-wasm" a browser-only, asynchronously initialised wasm build.
import type { PageCodec } from "./codec.ts";

/** LZO1X, flag 0x2. */
export const lzoCodec: PageCodec = {
  flag: 0x2,
  name: "lzo",
  decompress: (data, size) => lzo1xDecompress(data, size),
};

/**
 * Decompresses an LZO1X stream that must expand to exactly `size` bytes (lzo1x_decompress_safe semantics:
 * every read and write is bounds-checked, and the stream must end with its end marker).
 * @example lzo1xDecompress(compressedPage, 4096)
 */
export function lzo1xDecompress(src: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let ip = 0;
  let op = 0;
  /** Literals the previous instruction copied: 0, 1–3, or 4 for a longer run. Selects how 0–15 decode. */
  let state = 0;

  const byte = (): number => {
    if (ip >= src.length) throw new RangeError("input overrun");
    return src[ip++]!;
  };
  /** The length extension: each zero byte adds 255, the first non-zero byte ends it. */
  const extension = (): number => {
    let n = 0;
    for (let b = byte(); b === 0; b = byte()) {
      n += 255;
      if (n > size) throw new RangeError("length overrun");
    }
    return n + src[ip - 1]!;
  };
  const literals = (n: number): void => {
    if (ip + n > src.length) throw new RangeError("input overrun");
    if (op + n > size) throw new RangeError("output overrun");
    out.set(src.subarray(ip, ip + n), op);
    ip += n;
    op += n;
  };

  if (src.length > 0 && src[0]! > 17) {
    const n = byte() - 17;
    literals(n);
    state = n < 4 ? n : 4;
  }
  for (;;) {
    const t = byte();
    let len: number;
    let dist: number;
    let next: number;
    if (t < 16) {
      if (state === 0) {
        // 0000LLLL: a literal run of 3 + (L or 15 + extension) bytes
        literals(3 + (t === 0 ? 15 + extension() : t));
        state = 4;
        continue;
      }
      next = t & 3;
      if (state < 4) {
        len = 2; // 0000DDSS after 1–3 literals: 2 bytes within 1 KiB
        dist = (byte() << 2) + (t >> 2) + 1;
      } else {
        len = 3; // 0000DDSS after a literal run: 3 bytes at 2–3 KiB
        dist = (byte() << 2) + (t >> 2) + 2049;
      }
    } else if (t < 32) {
      // 0001HLLL: within 16–48 KiB; distance 16384 is the end marker
      len = 2 + ((t & 7) === 0 ? 7 + extension() : t & 7);
      const v = byte() | (byte() << 8);
      next = v & 3;
      dist = 16384 + ((t & 8) << 11) + (v >> 2);
      if (dist === 16384) {
        if (op !== size) throw new RangeError(`stream ended after ${op} bytes`);
        if (ip !== src.length) throw new RangeError("input not fully used");
        return out;
      }
    } else if (t < 64) {
      // 001LLLLL: within 16 KiB
      len = 2 + ((t & 31) === 0 ? 31 + extension() : t & 31);
      const v = byte() | (byte() << 8);
      next = v & 3;
      dist = (v >> 2) + 1;
    } else {
      // 01LDDDSS (3–4 bytes) or 1LLDDDSS (5–8 bytes) within 2 KiB
      len = t < 128 ? 3 + ((t >> 5) & 1) : 5 + ((t >> 5) & 3);
      next = t & 3;
      dist = (byte() << 3) + ((t >> 2) & 7) + 1;
    }
    if (dist > op) throw new RangeError("lookbehind overrun");
    if (op + len > size) throw new RangeError("output overrun");
    for (let i = 0; i < len; i++, op++) out[op] = out[op - dist]!;
    literals(next);
    state = next;
  }
}
