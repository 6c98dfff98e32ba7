// A ByteSource with some bytes replaced: a lab dump as a hostile user would edit it, without copying the file.
import type { ByteSource } from "../../lib/dump/source.ts";

/** `src` with `patches` (file offset → bytes) applied on every read. */
export class PatchedSource implements ByteSource {
  constructor(
    private readonly src: ByteSource,
    private readonly patches: { offset: number; bytes: Uint8Array }[],
  ) {}
  get size(): number {
    return this.src.size;
  }
  read(offset: number, length: number): Uint8Array {
    const b = this.src.read(offset, length);
    const hit = this.patches.filter((p) => p.offset < offset + length && p.offset + p.bytes.length > offset);
    if (!hit.length) return b;
    const out = b.slice();
    for (const p of hit)
      for (let i = 0; i < p.bytes.length; i++) {
        const at = p.offset + i - offset;
        if (at >= 0 && at < length) out[at] = p.bytes[i]!;
      }
    return out;
  }
  close(): void {
    this.src.close();
  }
}

/** `v` as little-endian bytes of `size` (4 or 8). */
export function leBytes(v: number | bigint, size: 4 | 8): Uint8Array {
  const dv = new DataView(new ArrayBuffer(size));
  if (size === 4) dv.setUint32(0, Number(v), true);
  else dv.setBigUint64(0, BigInt(v), true);
  return new Uint8Array(dv.buffer);
}
