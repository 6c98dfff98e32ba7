// The snappy codec (the snappyjs package) against libsnappy's snappy_compress (what makedumpfile -p links).
import { describe, expect, test } from "bun:test";
import { decompressPage } from "../../../lib/dump/codecs/codec.ts";
import { snappyCodec } from "../../../lib/dump/codecs/snappy.ts";
import { snappyCompress } from "../_nativecodecs.ts";
import { samples } from "./_samples.ts";

describe("snappyCodec", () => {
  test.each(samples())("restores %s compressed by libsnappy", (_name, data) => {
    expect(Buffer.from(snappyCodec.decompress(snappyCompress(data), data.length))).toEqual(Buffer.from(data));
  });

  test("a stream that claims more than a page, or is damaged, is a BadDataError", () => {
    const big = snappyCompress(new Uint8Array(8192));
    expect(() => decompressPage(snappyCodec, big, 4096)).toThrow("snappy page does not decompress");
    expect(() => decompressPage(snappyCodec, new Uint8Array([0x80, 0x20, 0xff, 0xff, 0xff]), 4096)).toThrow("snappy page does not decompress");
  });
});
