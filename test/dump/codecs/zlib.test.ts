// The zlib codec (node:zlib) against zlib streams from Python's zlib module (libz's compress2, as makedumpfile -c).
import { describe, expect, test } from "bun:test";
import { $ } from "bun";
import { decompressPage } from "../../../lib/dump/codecs/codec.ts";
import { zlibCodec } from "../../../lib/dump/codecs/zlib.ts";
import { samples } from "./_samples.ts";

const PY = "import sys, zlib; sys.stdout.buffer.write(zlib.compress(sys.stdin.buffer.read(), 6))";

describe("zlibCodec", () => {
  test.each(samples())("restores %s compressed by libz", async (_name, data) => {
    const z = new Uint8Array(await $`/usr/bin/python3 -c ${PY} < ${Buffer.from(data)}`.arrayBuffer());
    expect(Buffer.from(zlibCodec.decompress(z, data.length))).toEqual(Buffer.from(data));
  });

  test("a damaged stream is a BadDataError", () => {
    expect(() => decompressPage(zlibCodec, new Uint8Array([0x78, 0x9c, 1, 2, 3, 4]), 4096)).toThrow("zlib page does not decompress");
  });
});
