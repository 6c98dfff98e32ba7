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

/** Set bits of `bitmap` among frames [0, n). */
export function countBits(bitmap: Uint8Array, n = bitmap.length * 8): number {
  let c = 0;
  const whole = n >>> 3;
  for (let i = 0; i < whole; i++) c += POPCOUNT[bitmap[i]!]!;
  for (let pfn = whole * 8; pfn < n; pfn++) if (testBit(bitmap, pfn)) c++;
  return c;
}
