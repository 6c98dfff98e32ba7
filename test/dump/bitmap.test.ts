// Page bitmaps (lib/dump/bitmap.ts): clearRange() against a bit-by-bit clear over random bitmaps and ranges, at
// byte edges, empty and past the end; countRange() and the writer's rankIndex() against bit-by-bit counts. The
// filter's use of them is checked on real dumps in test/collect/filter.test.ts.
import { expect, test } from "bun:test";
import { clearBit, clearRange, countBits, countRange, testBit } from "../../lib/dump/bitmap.ts";
import { rankIndex } from "../../lib/collect/dump_pages.ts";
import type { PageFilter } from "../../lib/collect/filter.ts";

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

test("countRange() counts what a bit-by-bit loop counts, at byte edges and over whole words", () => {
  const r = rng(23);
  for (let round = 0; round < 2000; round++) {
    const bytes = 1 + Math.floor(r() * 200);
    const a = new Uint8Array(bytes).map(() => (r() < 0.3 ? 0 : Math.floor(r() * 256)));
    const from = Math.floor(r() * bytes * 8);
    const to = from + Math.floor(r() * (bytes * 8 - from + 1));
    let naive = 0;
    for (let p = from; p < to; p++) if (testBit(a, p)) naive++;
    expect([round, countRange(a, from, to)]).toEqual([round, naive]);
  }
});

test("rankIndex() gives each kept frame its index among the kept frames, in any order of asking", () => {
  const r = rng(29);
  const maxMapnr = 5 * 4096 + 777;
  const dumpable = new Uint8Array(Math.ceil(maxMapnr / 8)).map(() => (r() < 0.5 ? 0 : Math.floor(r() * 256)));
  const naive: number[] = [];
  for (let p = 0, k = 0; p < maxMapnr; p++) {
    naive.push(k);
    if (testBit(dumpable, p)) k++;
  }
  const rank = rankIndex({ dumpable, maxMapnr } as PageFilter);
  // increasing (the writer's passes), with jumps past a block, then back to the start and at random
  const asks = [0, 1, 7, 8, 9, 4095, 4096, 4097, 9000, 17000, 17001, 3, 20000, maxMapnr - 1, 2, ...Array.from({ length: 300 }, () => Math.floor(r() * maxMapnr))];
  for (const p of asks) expect([p, rank(p)]).toEqual([p, naive[p]!]);
});
