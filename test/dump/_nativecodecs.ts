// Reference compressors for tests, from the C libraries makedumpfile links against (liblzo2, libsnappy), called
// through bun:ffi. They produce the bytes a real makedumpfile would write for a page.
import { dlopen, FFIType, ptr } from "bun:ffi";

const LZO1X_1_MEM = 16384 * 8; // LZO1X_1_MEM_COMPRESS on 64-bit
const LZO1X_999_MEM = 14 * 16384 * 8;

let lzo: ReturnType<typeof openLzo> | null = null;
function openLzo() {
  return dlopen("liblzo2.so.2", {
    __lzo_init_v2: { args: [FFIType.u32, FFIType.i32, FFIType.i32, FFIType.i32, FFIType.i32, FFIType.i32, FFIType.i32, FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    lzo1x_1_compress: { args: [FFIType.ptr, FFIType.u64, FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
    lzo1x_999_compress: { args: [FFIType.ptr, FFIType.u64, FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  }).symbols;
}

/** liblzo2's LZO1X compressor: level 1 (what makedumpfile uses) or 999 (densest, uses every instruction form). */
export function lzoCompress(data: Uint8Array, level: 1 | 999 = 1): Uint8Array {
  if (!lzo) {
    lzo = openLzo();
    // lzo_init(): version 0x2080 with the sizes of short, int, long, lzo_uint32_t, lzo_uint, dict ptr, char*, void*, lzo_callback_t
    const rc = lzo.__lzo_init_v2(0x2080, 2, 4, 8, 4, 8, 8, 8, 8, 48);
    if (rc !== 0) throw new Error(`lzo_init failed: ${rc}`);
  }
  const out = new Uint8Array(data.length + Math.ceil(data.length / 16) + 64 + 3);
  const outLen = new BigUint64Array(1);
  const wrk = new Uint8Array(level === 1 ? LZO1X_1_MEM : LZO1X_999_MEM);
  const src = data.length ? data : new Uint8Array(1);
  const rc = (level === 1 ? lzo.lzo1x_1_compress : lzo.lzo1x_999_compress)(ptr(src), data.length, ptr(out), ptr(outLen), ptr(wrk));
  if (rc !== 0) throw new Error(`lzo1x compress failed: ${rc}`);
  return out.slice(0, Number(outLen[0]));
}

let snappyLib: ReturnType<typeof openSnappy> | null = null;
function openSnappy() {
  return dlopen("libsnappy.so.1", {
    snappy_compress: { args: [FFIType.ptr, FFIType.u64, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
    snappy_max_compressed_length: { args: [FFIType.u64], returns: FFIType.u64 },
  }).symbols;
}

/** libsnappy's raw block compressor (snappy_compress), as makedumpfile calls it. */
export function snappyCompress(data: Uint8Array): Uint8Array {
  snappyLib ??= openSnappy();
  const max = Number(snappyLib.snappy_max_compressed_length(data.length));
  const out = new Uint8Array(max);
  const outLen = new BigUint64Array([BigInt(max)]);
  const src = data.length ? data : new Uint8Array(1);
  const rc = snappyLib.snappy_compress(ptr(src), data.length, ptr(out), ptr(outLen));
  if (rc !== 0) throw new Error(`snappy_compress failed: ${rc}`);
  return out.slice(0, Number(outLen[0]));
}
