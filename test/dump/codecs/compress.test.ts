// The page compressors the writer uses: each output is a stream its standard decoder expands back to the page
// (zlib's inflate, zstd's decompress, our LZO reader), with the page_desc flag makedumpfile gives it.
import { describe, expect, test } from "bun:test";
import { deflateSync, inflateSync } from "node:zlib";
import { adler32, COMPRESS_NAMES, pageCompressor, zlibCompress } from "../../../lib/dump/codecs/compress.ts";
import { codecFor, decompressPage } from "../../../lib/dump/codecs/codec.ts";

const page = new Uint8Array(4096).map((_, i) => (i % 7 === 0 ? i & 0xff : 0x41 + (i % 26)));

describe("page compressors", () => {
  test("zlibCompress() writes a zlib stream inflate reads, with zlib's own Adler-32 trailer", () => {
    const z = zlibCompress(page);
    expect([z[0], z[1]]).toEqual([0x78, 0x01]);
    expect(Buffer.from(inflateSync(z)).equals(Buffer.from(page))).toBe(true);
    const ref = deflateSync(page); // node's zlib computes the trailer independently
    expect(Buffer.from(z.subarray(-4)).equals(ref.subarray(-4))).toBe(true);
  });

  test("adler32() agrees with zlib's trailer on inputs longer than one 5552-byte block", () => {
    const big = new Uint8Array(70_000).map((_, i) => (i * 131) & 0xff);
    expect(adler32(big)).toBe(deflateSync(big).readUInt32BE(deflateSync(big).length - 4));
    expect(adler32(new Uint8Array(0))).toBe(1);
  });

  test.each(COMPRESS_NAMES.filter((n) => n !== "none"))("pageCompressor(%s) output decodes through the reader's codec for its flag", (name) => {
    const c = pageCompressor(name);
    const z = c.compress(page);
    expect(z.length).toBeLessThan(4096);
    const codec = codecFor(c.flag)!;
    expect(codec.name).toBe(name);
    expect(Buffer.from(decompressPage(codec, z, 4096)).equals(Buffer.from(page))).toBe(true);
  });

  test("pageCompressor(none) stores pages as they are, flag 0", () => {
    const c = pageCompressor("none");
    expect(c.flag).toBe(0);
    expect(c.compress(page)).toBe(page);
  });
});
