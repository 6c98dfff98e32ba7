// The zstd codec (Bun's built-in zstd) against frames from the zstd command-line tool (libzstd, as makedumpfile -z).
import { describe, expect, test } from "bun:test";
import { $ } from "bun";
import { decompressPage } from "../../../lib/dump/codecs/codec.ts";
import { zstdCodec } from "../../../lib/dump/codecs/zstd.ts";
import { samples } from "./_samples.ts";

describe("zstdCodec", () => {
  test.each(samples())("restores %s compressed by the zstd CLI", async (_name, data) => {
    const frame = new Uint8Array(await $`zstd -q -c -3 < ${Buffer.from(data)}`.arrayBuffer());
    expect(Buffer.from(zstdCodec.decompress(frame, data.length))).toEqual(Buffer.from(data));
  });

  test("a damaged frame, or one of the wrong size, is a BadDataError", async () => {
    const frame = new Uint8Array(await $`zstd -q -c < ${Buffer.from(samples()[2]![1])}`.arrayBuffer());
    const bad = frame.slice();
    bad.fill(0, 8, 20);
    expect(() => decompressPage(zstdCodec, bad, 4096)).toThrow("zstd page");
    expect(() => decompressPage(zstdCodec, frame, 4000)).toThrow("zstd page decompressed to 4096 bytes, expected 4000");
  });

  test("a one-shot frame (as makedumpfile writes) declaring more than a page is refused before decompressing", () => {
    const frame = new Uint8Array(Bun.zstdCompressSync(new Uint8Array(1048576))); // one-shot: the header records the size
    expect(() => decompressPage(zstdCodec, frame, 4096)).toThrow("frame declares 1048576 bytes");
  });
});
