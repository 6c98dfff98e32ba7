// makedumpfile's flattened format (-F) as a DumpSink: positional writes become records {i64 offset; i64 size;
// data} (big-endian) after a 4 KiB header, ended by offset -1, so a dump can go down a pipe, ssh or a raw
// device; `makedumpfile -R` (or our reader) rebuilds the file. A record rewriting earlier bytes wins.
import { FLAT_SIGNATURE } from "./flattened.ts";
import type { ByteStream, DumpSink } from "./sink.ts";

const FLAT_HEADER_SIZE = 4096;
/** Records longer than this are split (makedumpfile's are at most its cache size; readers accept any). */
const MAX_RECORD = 16 << 20;

/** The 4 KiB flattened header: signature, type 1, version 1 (makedumpfile_header, big-endian). */
export function flatHeader(): Uint8Array {
  const h = new Uint8Array(FLAT_HEADER_SIZE);
  h.set(new TextEncoder().encode(FLAT_SIGNATURE), 0); // signature (16)
  const v = new DataView(h.buffer);
  v.setBigInt64(16, 1n); // type TYPE_FLAT_HEADER (8)
  v.setBigInt64(24, 1n); // version VERSION_FLAT_HEADER (8)
  return h;
}

/** A DumpSink writing the flattened format to a stream. */
export class FlatSink implements DumpSink {
  readonly stream = true;
  private started = false;
  /** Bytes sent down the stream so far. */
  sent = 0;

  constructor(private readonly out: ByteStream) {}

  async write(offset: number, data: Uint8Array): Promise<void> {
    if (!this.started) await this.put(flatHeader());
    this.started = true;
    for (let pos = 0; pos < data.length; pos += MAX_RECORD) {
      const part = data.subarray(pos, pos + MAX_RECORD);
      const rh = new Uint8Array(16);
      const v = new DataView(rh.buffer);
      v.setBigInt64(0, BigInt(offset + pos)); // offset (8)
      v.setBigInt64(8, BigInt(part.length)); // buf_size (8)
      await this.put(rh);
      await this.put(part);
    }
  }

  reserve(): void {}

  async finish(): Promise<void> {
    if (!this.started) await this.put(flatHeader());
    this.started = true;
    const end = new Uint8Array(16);
    const v = new DataView(end.buffer);
    v.setBigInt64(0, -1n); // END_FLAG_FLAT_HEADER (8)
    v.setBigInt64(8, -1n); // (8)
    await this.put(end);
    await this.out.end();
  }

  close(): void {}

  private async put(b: Uint8Array): Promise<void> {
    await this.out.write(b);
    this.sent += b.length;
  }
}
