// snappy pages (DUMP_DH_COMPRESSED_SNAPPY): raw snappy blocks (snappy_compress), via the snappyjs package, a
// dependency-free pure-JS implementation (no native addon to build for Bun).
import snappy from "snappyjs";
import type { PageCodec } from "./codec.ts";

/** snappy, flag 0x4. */
export const snappyCodec: PageCodec = {
  flag: 0x4,
  name: "snappy",
  decompress: (data, size) => snappy.uncompress(data, size),
};
