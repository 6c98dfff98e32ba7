// Page bitmaps (lib/dump/bitmap.ts): clearRange() against a bit-by-bit clear over random bitmaps and ranges, at
// byte edges, empty and past the end. The filter's use of it is checked on real dumps in test/collect/filter.test.ts.
import { expect, test } from "bun:test";
import { clearBit, clearRange, countBits } from "../../lib/dump/bitmap.ts";

/** A deterministic pseudo-random generator (xorshift32). */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

test("clearRange() clears what a bit-by-bit loop clears and counts the bits that were set", () => {
  const r = rng(17);
  for (let round = 0; round < 2000; round++) {
    const bytes = 1 + Math.floor(r() * 64);
    const a = new Uint8Array(bytes).map(() => (r() < 0.3 ? 0xff : Math.floor(r() * 256)));
    const b = a.slice();
    const start = Math.floor(r() * bytes * 8 + 8) - 4; // a few before 0 or past the end now and then
    const end = start + Math.floor(r() * (bytes * 8 + 16)) - 8;
    let naive = 0;
    for (let p = Math.max(0, start); p < Math.min(end, bytes * 8); p++) if (clearBit(b, p)) naive++;
    expect([round, clearRange(a, Math.max(0, start), end)]).toEqual([round, naive]);
    expect(Buffer.compare(a, b)).toBe(0);
  }
});

test("clearRange() of a whole 4 MiB block clears 128 bytes and nothing around them", () => {
  const a = new Uint8Array(512).fill(0xff);
  expect(clearRange(a, 1024, 2048)).toBe(1024);
  expect(countBits(a)).toBe(4096 - 1024);
  expect([a[127], a[128], a[255], a[256]]).toEqual([0xff, 0, 0, 0xff]);
  expect(clearRange(a, 1024, 2048)).toBe(0);
  expect(clearRange(a, 5000, 6000)).toBe(0); // past the end
  expect(clearRange(a, 30, 30)).toBe(0);
  expect(clearRange(a, 40, 30)).toBe(0);
});

test("countBits() counts what a bit-by-bit loop counts, word-aligned or not, up to any frame", () => {
  const r = rng(5);
  for (let round = 0; round < 500; round++) {
    const bytes = 1 + Math.floor(r() * 200);
    const buf = new Uint8Array(bytes + 3).map(() => (r() < 0.2 ? 0 : Math.floor(r() * 256)));
    const at = Math.floor(r() * 4); // subarrays at every byte offset
    const a = buf.subarray(at, at + bytes);
    const n = Math.floor(r() * bytes * 8);
    let naive = 0;
    for (let p = 0; p < n; p++) if ((a[p >>> 3]! >> (p & 7)) & 1) naive++;
    expect([round, countBits(a, n)]).toEqual([round, naive]);
  }
  expect(countBits(new Uint8Array(64).fill(0xff))).toBe(512);
});
