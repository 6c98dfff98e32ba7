// LZO1X-1 compression as liblzo2 2.10's lzo1x_1_compress does it on x86_64 (14-bit hash of 4 bytes, one
// dictionary slot per hash, literal runs skipped faster the longer they get), so `makedumpfile -l` readers
// (crash, makedumpfile, lzo1x_decompress_safe) read our pages. Written from the LZO1X stream format.

const D_BITS = 14;
const D_MASK = (1 << D_BITS) - 1;
/** Inputs are compressed in independent blocks of at most this many bytes (liblzo2's deterministic mode). */
const BLOCK = 49152;
const M2_MAX_LEN = 8;
const M2_MAX_OFFSET = 0x0800;
const M3_MAX_OFFSET = 0x4000;
const M3_MAX_LEN = 33;
const M4_MAX_LEN = 9;
const M3_MARKER = 32;
const M4_MARKER = 16;

/** Worst-case output size for `n` input bytes (liblzo2's documented bound). */
export function lzo1xBound(n: number): number {
  return n + (n >>> 4) + 64 + 3;
}

/** A reusable LZO1X-1 compressor: its dictionary and output buffer are allocated once. */
export class Lzo1xCompressor {
  private readonly dict = new Uint16Array(1 << D_BITS);
  private out = new Uint8Array(lzo1xBound(4096));

  /**
   * Compresses `src` into a new array (a view of an internal buffer when `copy` is false: use it before the
   * next call).
   * @example new Lzo1xCompressor().compress(page)
   */
  compress(src: Uint8Array, copy = true): Uint8Array {
    if (this.out.length < lzo1xBound(src.length)) this.out = new Uint8Array(lzo1xBound(src.length));
    const out = this.out;
    let op = 0;
    let ip = 0;
    let left = src.length;
    let t = 0; // literals carried from one block into the next
    while (left > 20) {
      const ll = Math.min(left, BLOCK);
      this.dict.fill(0);
      const r = this.block(src, ip, ll, op, t);
      op = r.op;
      t = r.rest;
      ip += ll;
      left -= ll;
    }
    t += left;
    if (t > 0) op = literalRun(src, src.length - t, t, out, op, op === 0);
    out[op++] = M4_MARKER | 1; // end of stream: a distance-16384 match of length 3
    out[op++] = 0;
    out[op++] = 0;
    return copy ? out.slice(0, op) : out.subarray(0, op);
  }

  /** One block of `len` bytes at `start`; `ti` literals before it are still unwritten. Returns the unwritten tail. */
  private block(src: Uint8Array, start: number, len: number, op: number, ti: number): { op: number; rest: number } {
    const out = this.out;
    const dict = this.dict;
    const inEnd = start + len;
    const ipEnd = inEnd - 20;
    let ii = start; // first byte not yet written
    let ip = start + (ti < 4 ? 4 - ti : 0);
    ip += 1 + ((ip - ii) >> 5);
    for (;;) {
      // find a 4-byte match through the hash of the next 4 bytes
      let mPos = 0;
      for (;;) {
        if (ip >= ipEnd) return { op, rest: inEnd - (ii - ti) };
        const dv = (src[ip]! | (src[ip + 1]! << 8) | (src[ip + 2]! << 16) | (src[ip + 3]! << 24)) >>> 0;
        const h = (Math.imul(dv, 0x1824429d) >>> (32 - D_BITS)) & D_MASK;
        mPos = start + dict[h]!;
        dict[h] = ip - start;
        if (src[mPos] === src[ip] && src[mPos + 1] === src[ip + 1] && src[mPos + 2] === src[ip + 2] && src[mPos + 3] === src[ip + 3]) break;
        ip += 1 + ((ip - ii) >> 5);
      }
      // the literals before the match
      ii -= ti;
      ti = 0;
      const lit = ip - ii;
      if (lit > 0) op = literalRun(src, ii, lit, out, op, false);
      // extend the match 8 bytes at a time, as the 64-bit build compares words
      let mLen = 4;
      let eq = equalPrefix8(src, ip + mLen, mPos + mLen);
      if (eq === 8) {
        for (;;) {
          mLen += 8;
          eq = equalPrefix8(src, ip + mLen, mPos + mLen);
          if (ip + mLen >= ipEnd) {
            eq = 0;
            break;
          }
          if (eq < 8) break;
        }
      }
      mLen += eq;
      let mOff = ip - mPos;
      ip += mLen;
      ii = ip;
      if (mLen <= M2_MAX_LEN && mOff <= M2_MAX_OFFSET) {
        mOff -= 1;
        out[op++] = ((mLen - 1) << 5) | ((mOff & 7) << 2);
        out[op++] = mOff >>> 3;
      } else if (mOff <= M3_MAX_OFFSET) {
        mOff -= 1;
        if (mLen <= M3_MAX_LEN) out[op++] = M3_MARKER | (mLen - 2);
        else op = lengthExtension(out, op, M3_MARKER, mLen - M3_MAX_LEN);
        out[op++] = (mOff << 2) & 0xff;
        out[op++] = (mOff >>> 6) & 0xff;
      } else {
        mOff -= 0x4000;
        if (mLen <= M4_MAX_LEN) out[op++] = M4_MARKER | ((mOff >>> 11) & 8) | (mLen - 2);
        else op = lengthExtension(out, op, M4_MARKER | ((mOff >>> 11) & 8), mLen - M4_MAX_LEN);
        out[op++] = (mOff << 2) & 0xff;
        out[op++] = (mOff >>> 6) & 0xff;
      }
    }
  }
}

/** How many of the 8 bytes at `a` and `b` are equal before the first difference (8 when all are). */
function equalPrefix8(s: Uint8Array, a: number, b: number): number {
  for (let k = 0; k < 8; k++) if (s[a + k] !== s[b + k]) return k;
  return 8;
}

/** Writes `marker`, then the length `n` as zero bytes worth 255 each and a final non-zero byte. */
function lengthExtension(out: Uint8Array, op: number, marker: number, n: number): number {
  out[op++] = marker;
  while (n > 255) {
    n -= 255;
    out[op++] = 0;
  }
  out[op++] = n;
  return op;
}

/**
 * Writes `n` literals from `src[from]`: folded into the previous instruction's low 2 bits when 1–3, as the
 * stream's first byte (17 + n) when nothing precedes them, else a literal-run instruction.
 */
function literalRun(src: Uint8Array, from: number, n: number, out: Uint8Array, op: number, first: boolean): number {
  if (first && n <= 238) out[op++] = 17 + n;
  else if (n <= 3) out[op - 2]! |= n;
  else if (n <= 18) out[op++] = n - 3;
  else op = lengthExtension(out, op, 0, n - 18);
  if (n < 64) for (let k = 0; k < n; k++) out[op + k] = src[from + k]!; // short runs: a view would cost more than the copy
  else out.set(src.subarray(from, from + n), op);
  return op + n;
}

/**
 * LZO1X-1 compression of one buffer.
 * @example lzo1xCompress(page)  // bytes lzo1x_decompress_safe() expands back to `page`
 */
export function lzo1xCompress(src: Uint8Array): Uint8Array {
  return new Lzo1xCompressor().compress(src);
}
