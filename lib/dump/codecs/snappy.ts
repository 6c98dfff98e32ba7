// snappy pages (DUMP_DH_COMPRESSED_SNAPPY): raw snappy blocks (snappy_compress), via the snappyjs package, a
// dependency-free pure-JS implementation (no native addon to build for Bun). Loaded on the first snappy page: the
// collector and most dumps never need it, and loading it took ~0.3 s of a TCG capture's start.
import type { PageCodec } from "./codec.ts";

let snappy: typeof import("snappyjs") | undefined;

/** snappy, flag 0x4. */
export const snappyCodec: PageCodec = {
  flag: 0x4,
  name: "snappy",
  decompress: (data, size) => (snappy ??= require("snappyjs") as typeof import("snappyjs")).uncompress(data, size),
};
