// zlib pages (DUMP_DH_COMPRESSED_ZLIB): makedumpfile's compress2() output, a zlib stream (RFC 1950), inflated by
// Bun's zlib (windowBits 15 selects the zlib wrapper); decompressPage() refuses anything but one whole page.
import type { PageCodec } from "./codec.ts";

/** zlib, flag 0x1. */
export const zlibCodec: PageCodec = {
  flag: 0x1,
  name: "zlib",
  decompress: (data) => Bun.inflateSync(data as Uint8Array<ArrayBuffer>, { windowBits: 15 }),
};
