// .xz decompression in-process through liblzma's lzma_stream_buffer_decode (bun:ffi). liblzma.so.5 is on every box
// with dpkg or rpm (both link it), where the xz binary often is not: a minimal Debian has no xz-utils.
import { dlopen, FFIType, ptr } from "bun:ffi";
import { optionalLibrary } from "./optional_library.ts";
import { MissingDataError, BadDataError } from "../errors.ts";

/** lzma_ret values we tell apart (lzma/base.h). */
const LZMA_OK = 0;
const LZMA_MEM_ERROR = 5;
const LZMA_BUF_ERROR = 10;

const library = optionalLibrary(open);
function open() {
  return dlopen("liblzma.so.5", {
    // lzma_ret lzma_stream_buffer_decode(uint64_t *memlimit, uint32_t flags, const lzma_allocator *allocator,
    //   const uint8_t *in, size_t *in_pos, size_t in_size, uint8_t *out, size_t *out_pos, size_t out_size)
    lzma_stream_buffer_decode: {
      args: [FFIType.ptr, FFIType.u32, FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.u64, FFIType.ptr, FFIType.ptr, FFIType.u64],
      returns: FFIType.i32,
    },
  });
}

/** True when liblzma.so.5 can be opened here. */
export function haveLiblzma(): boolean {
  return library() !== null;
}

/**
 * Decompresses a whole .xz file. The output buffer starts at 4× the input and doubles up to `maxBytes`.
 * Throws MissingDataError without liblzma, BadDataError on corrupt input.
 * @example xzDecompress(readFileSync("virtio_blk.ko.xz")).subarray(0, 4) // 7f 45 4c 46
 */
export function xzDecompress(input: Uint8Array, maxBytes = 512 << 20): Uint8Array {
  if (!haveLiblzma()) throw new MissingDataError("liblzma.so.5 not found", { hint: "install liblzma5 (or xz-utils)" });
  const memlimit = new BigUint64Array([0xffff_ffff_ffff_ffffn]);
  const inPos = new BigUint64Array(1);
  const outPos = new BigUint64Array(1);
  const src = input.length ? input : new Uint8Array(1);
  for (let size = Math.max(input.length * 4, 1 << 16); ; size *= 2) {
    const out = new Uint8Array(size);
    inPos[0] = 0n;
    outPos[0] = 0n;
    const r = library()!.symbols.lzma_stream_buffer_decode(ptr(memlimit), 0, null, ptr(src), ptr(inPos), input.length, ptr(out), ptr(outPos), size);
    if (r === LZMA_OK) return out.subarray(0, Number(outPos[0]));
    if (r === LZMA_BUF_ERROR && size < maxBytes) continue;
    if (r === LZMA_MEM_ERROR) throw new MissingDataError(`liblzma ran out of memory decompressing ${input.length} bytes`);
    throw new BadDataError(`not a valid .xz stream (liblzma error ${r})`, { hint: "is the file complete?" });
  }
}
