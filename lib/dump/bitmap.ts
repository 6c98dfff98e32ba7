// Page bitmaps as makedumpfile lays them out (one bit a page frame, LSB first in each byte): the kdump-compressed
// format's present and dumpable bitmaps, and the filter's kept-page set.

/** True when bit `pfn` is set in `bitmap`. */
export function testBit(bitmap: Uint8Array, pfn: number): boolean {
  return ((bitmap[pfn >>> 3]! >> (pfn & 7)) & 1) === 1;
}

/** Clears bit `pfn`; returns whether it was set. */
export function clearBit(bitmap: Uint8Array, pfn: number): boolean {
  const was = testBit(bitmap, pfn);
  bitmap[pfn >>> 3]! &= ~(1 << (pfn & 7));
  return was;
}

const POPCOUNT = new Uint8Array(256).map((_, b) => {
  let n = 0;
  for (let v = b; v; v >>= 1) n += v & 1;
  return n;
});

/**
 * Clears bits [start, end) (end clamped to the bitmap); returns how many were set. Whole bytes at a time: a free
 * 4 MiB block is 128 bytes, not 1024 bit tests (the filter clears ~16 million frames of a 64 GiB box).
 */
export function clearRange(bitmap: Uint8Array, start: number, end: number): number {
  end = Math.min(end, bitmap.length * 8);
  if (end <= start) return 0;
  let cleared = 0;
  let pfn = start;
  for (; pfn < end && pfn & 7; pfn++) if (clearBit(bitmap, pfn)) cleared++;
  const first = pfn >>> 3;
  const last = first + ((end - pfn) >>> 3);
  for (let i = first; i < last; i++) {
    const b = bitmap[i]!;
    if (b) {
      cleared += POPCOUNT[b]!;
      bitmap[i] = 0;
    }
  }
  for (pfn = Math.max(pfn, last * 8); pfn < end; pfn++) if (clearBit(bitmap, pfn)) cleared++;
  return cleared;
}

/** Set bits of a 32-bit word (SWAR popcount). */
function popcount32(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}

/** Set bits of `bitmap` among frames [0, n): 32 frames a step where the bytes are word-aligned. */
export function countBits(bitmap: Uint8Array, n = bitmap.length * 8): number {
  let c = 0;
  const whole = n >>> 3;
  let i = 0;
  if (bitmap.byteOffset % 4 === 0) {
    const words = new Uint32Array(bitmap.buffer, bitmap.byteOffset, whole >>> 2);
    for (let w = 0; w < words.length; w++) if (words[w]) c += popcount32(words[w]!);
    i = words.length * 4;
  }
  for (; i < whole; i++) c += POPCOUNT[bitmap[i]!]!;
  for (let pfn = whole * 8; pfn < n; pfn++) if (testBit(bitmap, pfn)) c++;
  return c;
}

/**
 * Set bits in [from, to) (frame numbers): the partial bytes at either end bit by bit, the rest by countBits().
 * @example countRange(dumpable, 4096, 6000)
 */
export function countRange(bitmap: Uint8Array, from: number, to: number): number {
  let c = 0;
  let pfn = from;
  for (; pfn < to && pfn & 7; pfn++) if (testBit(bitmap, pfn)) c++;
  const whole = (to - pfn) >>> 3;
  if (whole) {
    c += countBits(bitmap.subarray(pfn >>> 3, (pfn >>> 3) + whole));
    pfn += whole * 8;
  }
  for (; pfn < to; pfn++) if (testBit(bitmap, pfn)) c++;
  return c;
}
