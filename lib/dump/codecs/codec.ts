// The page codecs of makedumpfile's kdump-compressed format, registered by their page_desc flag. A new codec is
// one new file and one line in `pageCodecs` below.
import { BadDataError } from "../../errors.ts";
import { lzoCodec } from "./lzo.ts";
import { snappyCodec } from "./snappy.ts";
import { zlibCodec } from "./zlib.ts";
import { zstdCodec } from "./zstd.ts";

/** A page decompressor. */
export interface PageCodec {
  /** page_desc.flags bit that selects it (DUMP_DH_COMPRESSED_*). */
  flag: number;
  /** Its name, for messages ("zlib", "lzo", "snappy", "zstd"). */
  name: string;
  /** Decompresses one page; returns exactly `size` bytes or throws. */
  decompress(data: Uint8Array, size: number): Uint8Array;
}

/** Every codec we read, by flag: zlib 0x1, lzo 0x2, snappy 0x4, zstd 0x20 (makedumpfile's diskdump_mod.h). */
export const pageCodecs: PageCodec[] = [zlibCodec, lzoCodec, snappyCodec, zstdCodec];

/** The codec for a page_desc's flags, or null for a page stored raw. Throws for an unknown compression bit. */
export function codecFor(flags: number): PageCodec | null {
  if (flags === 0) return null;
  const c = pageCodecs.find((x) => flags & x.flag);
  if (!c) throw new BadDataError(`page compressed with unknown method (flags 0x${flags.toString(16)})`, { hint: "the dump was written by a newer makedumpfile, or is corrupted" });
  return c;
}

/**
 * Runs `codec` and checks the result is one whole page.
 * @example decompressPage(zlibCodec, data, 4096)
 */
export function decompressPage(codec: PageCodec, data: Uint8Array, size: number): Uint8Array {
  let out: Uint8Array;
  try {
    out = codec.decompress(data, size);
  } catch (e) {
    throw new BadDataError(`${codec.name} page does not decompress: ${e instanceof Error ? e.message : String(e)}`, { hint: "the dump is corrupted" });
  }
  if (out.length !== size) throw new BadDataError(`${codec.name} page decompressed to ${out.length} bytes, expected ${size}`, { hint: "the dump is corrupted" });
  return out;
}
