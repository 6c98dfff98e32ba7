// zstd pages (DUMP_DH_COMPRESSED_ZSTD, makedumpfile 1.7.0+): one zstd frame per page, via Bun's built-in zstd.
import type { PageCodec } from "./codec.ts";

/** zstd, flag 0x20. */
export const zstdCodec: PageCodec = {
  flag: 0x20,
  name: "zstd",
  decompress: (data) => new Uint8Array(Bun.zstdDecompressSync(data)),
};
