// zlib pages (DUMP_DH_COMPRESSED_ZLIB): makedumpfile's compress2() output, a zlib stream, via node:zlib.
import { inflateSync } from "node:zlib";
import type { PageCodec } from "./codec.ts";

/** zlib, flag 0x1. */
export const zlibCodec: PageCodec = {
  flag: 0x1,
  name: "zlib",
  decompress: (data, size) => new Uint8Array(inflateSync(data, { maxOutputLength: size })),
};
