// Our LZO1X decompressor against liblzo2 (what makedumpfile -l links): every page compressed by lzo1x_1 (what
// makedumpfile writes) and lzo1x_999 (every instruction form) decompresses to the original; damage is an error.
import { describe, expect, test } from "bun:test";
import { lzo1xDecompress } from "../../../lib/dump/codecs/lzo.ts";
import { lzoCompress } from "../_nativecodecs.ts";
import { samples } from "./_samples.ts";

describe("lzo1xDecompress()", () => {
  test.each(samples())("restores %s compressed by liblzo2 at levels 1 and 999", (_name, data) => {
    for (const level of [1, 999] as const) expect(Buffer.from(lzo1xDecompress(lzoCompress(data, level), data.length))).toEqual(Buffer.from(data));
  });

  test("throws RangeError on truncated input, a wrong size, or a match before the start", () => {
    const data = samples()[2]![1];
    const c = lzoCompress(data);
    expect(() => lzo1xDecompress(c.subarray(0, c.length - 5), data.length)).toThrow(RangeError);
    expect(() => lzo1xDecompress(c, data.length - 1)).toThrow(RangeError);
    expect(() => lzo1xDecompress(c, data.length + 1)).toThrow("stream ended after");
    expect(() => lzo1xDecompress(new Uint8Array([0x20, 0x05, 0x40, 0x11, 0, 0]), 16)).toThrow(RangeError);
  });
});
