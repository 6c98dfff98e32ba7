// zstd pages (DUMP_DH_COMPRESSED_ZSTD, makedumpfile 1.7.0+): one zstd frame per page, via Bun's built-in zstd.
// The frame header's content size is checked first, so a damaged page cannot make us allocate more than a page.
import type { PageCodec } from "./codec.ts";

/** zstd, flag 0x20. */
export const zstdCodec: PageCodec = {
  flag: 0x20,
  name: "zstd",
  decompress: (data, size) => {
    const declared = frameContentSize(data);
    if (declared !== null && declared > size) throw new RangeError(`frame declares ${declared} bytes`);
    return new Uint8Array(Bun.zstdDecompressSync(data));
  },
};

/** Frame_Content_Size from a zstd frame header (RFC 8878 §3.1.1.1), or null when the frame does not record it. */
export function frameContentSize(f: Uint8Array): number | null {
  if (f.length < 6 || f[0] !== 0x28 || f[1] !== 0xb5 || f[2] !== 0x2f || f[3] !== 0xfd) throw new RangeError("no zstd frame magic");
  const fhd = f[4]!;
  const single = (fhd >> 5) & 1;
  const fcsFlag = fhd >> 6;
  const fcsSize = [single, 2, 4, 8][fcsFlag]!;
  if (fcsSize === 0) return null;
  const at = 5 + (single ? 0 : 1) + [0, 1, 2, 4][fhd & 3]!;
  if (at + fcsSize > f.length) throw new RangeError("zstd frame header truncated");
  let v = 0;
  for (let i = fcsSize - 1; i >= 0; i--) v = v * 256 + f[at + i]!;
  return fcsSize === 2 ? v + 256 : v;
}
