// The page data of a dump file, appended through a second descriptor opened with O_DIRECT: the bytes gather in an
// aligned buffer and go to the disk a whole buffer at a time, at aligned offsets, without passing through the page
// cache; while one buffer is being written (Bun's I/O threads), the next one fills. The unaligned head before the first aligned offset and the tail after the last whole block go through the
// file's ordinary descriptor, as do all other writes (headers, bitmaps, page_desc table). The capture kernel has a
// few hundred MiB: a buffered write of a 300 MiB dump fills its page cache and the kernel copies every byte into it;
// under QEMU's TCG that copy is the collector's largest cost after compression. A file system that refuses O_DIRECT
// (tmpfs, some FUSE) leaves the appender off: every write then goes through the ordinary descriptor.
import { closeSync, constants, openSync, write } from "node:fs";
import { ptr } from "bun:ffi";

/** Alignment of O_DIRECT offsets, lengths and buffer addresses (a page: more than any device's logical block). */
export const DIRECT_ALIGN = 4096;

/** Bytes gathered before each direct write. */
export const DIRECT_CHUNK = 1 << 20;

/** An array of `bytes` whose first byte is DIRECT_ALIGN-aligned in memory (big arrays are not moved by the GC). */
function alignedArray(bytes: number): Uint8Array {
  const raw = new Uint8Array(bytes + DIRECT_ALIGN);
  const skip = (DIRECT_ALIGN - (ptr(raw) % DIRECT_ALIGN)) % DIRECT_ALIGN;
  return raw.subarray(skip, skip + bytes);
}

/** Writes all of buf[0, length) at `position`, on Bun's I/O threads. */
async function writeAll(fd: number, buf: Uint8Array, length: number, position: number): Promise<void> {
  for (let done = 0; done < length; ) {
    done += await new Promise<number>((resolve, reject) => write(fd, buf, done, length - done, position + done, (e, n) => (e ? reject(e) : resolve(n))));
  }
}

/** Appends bytes from `start` on: whole aligned chunks by O_DIRECT, the rest by `plain`. */
export class DirectAppender {
  /** File offset the next appended byte goes to. */
  next: number;
  /** File offset of the buffer's first byte (aligned), once the head is written. */
  private base: number;
  private fill = 0;
  private buf = alignedArray(DIRECT_CHUNK);
  /** The buffer being written, when one is. */
  private spare = alignedArray(DIRECT_CHUNK);
  private inflight: Promise<void> = Promise.resolve();
  /** The file range being written, while it is. */
  private flying: [number, number] | null = null;
  /** Set when a direct write failed with EINVAL: everything goes by `plain`. */
  private refused = false;
  private closed = false;

  private constructor(
    private readonly fd: number,
    start: number,
    private readonly plain: (offset: number, data: Uint8Array) => void,
  ) {
    this.next = start;
    this.base = Math.ceil(start / DIRECT_ALIGN) * DIRECT_ALIGN;
  }

  /**
   * An appender for `path` from `start`, or null when its file system refuses O_DIRECT (or KDUMP_NO_DIRECT=1).
   * @example DirectAppender.open(path, dataAt, (o, d) => sink.writePlain(o, d))
   */
  static open(path: string, start: number, plain: (offset: number, data: Uint8Array) => void): DirectAppender | null {
    if (process.env.KDUMP_NO_DIRECT === "1" || !constants.O_DIRECT) return null;
    try {
      return new DirectAppender(openSync(path, constants.O_WRONLY | constants.O_DIRECT), start, plain);
    } catch {
      return null; // EINVAL: this file system has no O_DIRECT
    }
  }

  /** Appends `data` at `next` (resolves once it is gathered; a full buffer starts its write). */
  async append(data: Uint8Array): Promise<void> {
    let at = 0;
    if (this.next < this.base) {
      // the unaligned head, before the first aligned offset
      const n = Math.min(data.length, this.base - this.next);
      this.plain(this.next, data.subarray(0, n));
      this.next += n;
      at = n;
    }
    while (at < data.length) {
      const n = Math.min(data.length - at, DIRECT_CHUNK - this.fill);
      this.buf.set(data.subarray(at, at + n), this.fill);
      this.fill += n;
      this.next += n;
      at += n;
      if (this.fill === DIRECT_CHUNK) await this.writeDirect(DIRECT_CHUNK);
    }
  }

  /** True when [offset, offset + length) overlaps bytes gathered or being written, not yet on disk. */
  holds(offset: number, length: number): boolean {
    const overlaps = (from: number, to: number) => from < to && offset < to && offset + length > from;
    return overlaps(this.base, this.base + this.fill) || (this.flying !== null && overlaps(this.flying[0], this.flying[1]));
  }

  /** Writes what is gathered and waits for every write: whole blocks by O_DIRECT, the last partial block by `plain`. */
  async flush(): Promise<void> {
    const whole = Math.floor(this.fill / DIRECT_ALIGN) * DIRECT_ALIGN;
    if (whole) await this.writeDirect(whole);
    await this.inflight;
    if (this.fill) {
      this.plain(this.base, this.buf.subarray(0, this.fill));
      this.base += this.fill;
      this.fill = 0;
    }
  }

  /** Closes the O_DIRECT descriptor once no write is in flight (what is not flushed is dropped: the dump is incomplete). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const fd = this.fd;
    void this.inflight.then(
      () => closeSync(fd),
      () => closeSync(fd),
    );
  }

  /**
   * Starts writing buf[0, length) at `base` once the write before it is done (its error, if any, is thrown here),
   * and goes on filling the other buffer.
   */
  private async writeDirect(length: number): Promise<void> {
    await this.inflight;
    const out = this.buf;
    const at = this.base;
    this.spare.set(out.subarray(length, this.fill), 0);
    this.buf = this.spare;
    this.spare = out;
    this.fill -= length;
    this.base += length;
    if (this.refused) return void this.plain(at, out.subarray(0, length));
    this.flying = [at, at + length];
    this.inflight = writeAll(this.fd, out, length, at)
      .catch((e) => {
        // a file system that opens with O_DIRECT but takes no such write (EINVAL): the ordinary descriptor from now on
        if ((e as NodeJS.ErrnoException).code !== "EINVAL") throw e;
        this.refused = true;
        this.plain(at, out.subarray(0, length));
      })
      .finally(() => {
        this.flying = null;
      });
    // its failure (ENOSPC, EIO) is thrown by the next writeDirect() or flush(), not reported as unhandled meanwhile
    this.inflight.catch(() => {});
  }
}
