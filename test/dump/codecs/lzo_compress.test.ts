// Our LZO1X-1 compressor against liblzo2's lzo1x_1_compress (what makedumpfile -l calls), byte for byte, on
// real pages of a lab dump and on synthetic inputs of every length class; and back through both decompressors.
import { describe, expect, test } from "bun:test";
import { dumpPages } from "../_pages.ts";
import { Lzo1xCompressor, lzo1xBound } from "../../../lib/dump/codecs/lzo_compress.ts";
import { lzo1xDecompress } from "../../../lib/dump/codecs/lzo.ts";
import { lzoCompress } from "../_nativecodecs.ts";

/** Deterministic pseudo-random bytes. */
function noise(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

describe("Lzo1xCompressor", () => {
  test("compress() matches liblzo2's lzo1x_1_compress byte for byte on lab dump pages", async () => {
    const pages = await dumpPages(101);
    expect(pages.length).toBeGreaterThan(1500);
    const c = new Lzo1xCompressor();
    let differ = 0;
    for (const p of pages) if (Buffer.compare(Buffer.from(c.compress(p)), Buffer.from(lzoCompress(p))) !== 0) differ++;
    expect(differ).toBe(0);
  }, 120_000);

  const kinds: Record<string, (n: number) => Uint8Array> = {
    random: (n) => noise(n, n),
    zeros: (n) => new Uint8Array(n),
    text: (n) => new TextEncoder().encode("the quick brown fox jumps over the lazy dog, ".repeat(Math.ceil(n / 45) + 1)).subarray(0, n),
    sparse: (n) => noise(n, 7).map((v, i) => (i % 97 === 0 ? v : 0)),
    ramp: (n) => new Uint8Array(n).map((_, i) => (i * 7) % 251),
  };
  const sizes = [0, 1, 3, 4, 17, 20, 21, 22, 238, 239, 4096, 49151, 49152, 49153, 100_000, 200_000];
  test.each(Object.keys(kinds))("compress() matches liblzo2 on %s input of every length class", (kind) => {
    const c = new Lzo1xCompressor();
    for (const n of sizes) {
      const input = kinds[kind]!(n);
      const ours = c.compress(input);
      expect(Buffer.from(ours).equals(Buffer.from(lzoCompress(input)))).toBe(true);
      expect(ours.length).toBeLessThanOrEqual(lzo1xBound(n));
      expect(Buffer.from(lzo1xDecompress(ours, n)).equals(Buffer.from(input))).toBe(true);
    }
  });
});
