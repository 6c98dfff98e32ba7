// The page data of a dump file, appended through a second descriptor opened with O_DIRECT: the bytes gather in an
// aligned 1 MiB buffer and go to the disk a whole buffer at a time, at aligned offsets, without passing through the
// page cache. The unaligned head before the first aligned offset and the tail after the last whole block go through
// the file's ordinary descriptor, as do all other writes (headers, bitmaps, page_desc table). The capture kernel has a
// few hundred MiB: a buffered write of a 300 MiB dump fills its page cache, and the kernel copies every byte into it
// (under QEMU's TCG, 3.1 s of the main thread's CPU in a 64 GiB capture; 1.0 s through this). Writing the buffer
// from Bun's I/O threads while another fills measured no faster, in the lab or on the host, so the write is
// synchronous. A file system that refuses O_DIRECT (tmpfs before Linux 6.6, some FUSE) leaves the appender off: every
// write then goes through the ordinary descriptor.
import { closeSync, constants, openSync, writeSync } from "node:fs";
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

/** Appends bytes from `start` on: whole aligned chunks by O_DIRECT, the rest by `plain`. */
export class DirectAppender {
  /** File offset the next appended byte goes to. */
  next: number;
  /** File offset of the buffer's first byte (aligned), once the head is written. */
  private base: number;
  private fill = 0;
  private readonly buf = alignedArray(DIRECT_CHUNK);
  /** Set when a direct write failed with EINVAL: everything goes by `plain`. */
  private refused = false;

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

  /** Appends `data` at `next`; a full buffer is written. */
  append(data: Uint8Array): void {
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
      if (this.fill === DIRECT_CHUNK) this.writeDirect(DIRECT_CHUNK);
    }
  }

  /** True when [offset, offset + length) overlaps bytes gathered and not yet written. */
  holds(offset: number, length: number): boolean {
    return this.fill > 0 && offset < this.base + this.fill && offset + length > this.base;
  }

  /** Writes what is gathered: whole blocks by O_DIRECT, the last partial block by `plain`. */
  flush(): void {
    const whole = Math.floor(this.fill / DIRECT_ALIGN) * DIRECT_ALIGN;
    if (whole) this.writeDirect(whole);
    if (this.fill) {
      this.plain(this.base, this.buf.subarray(0, this.fill));
      this.base += this.fill;
      this.fill = 0;
    }
  }

  /** Closes the O_DIRECT descriptor (what is not flushed is dropped: the dump is incomplete anyway). */
  close(): void {
    closeSync(this.fd);
  }

  /** Writes buf[0, length) at `base` and moves what follows it to the buffer's start. */
  private writeDirect(length: number): void {
    const chunk = this.buf.subarray(0, length);
    if (this.refused || !this.tryDirect(chunk)) this.plain(this.base, chunk);
    this.buf.copyWithin(0, length, this.fill);
    this.fill -= length;
    this.base += length;
  }

  /** Writes `chunk` at `base` by O_DIRECT; false (and every later chunk by `plain`) when the file system says EINVAL. */
  private tryDirect(chunk: Uint8Array): boolean {
    try {
      for (let done = 0; done < chunk.length; ) done += writeSync(this.fd, chunk, done, chunk.length - done, this.base + done);
      return true;
    } catch (e) {
      // a file system that opens with O_DIRECT but takes no such write
      if ((e as NodeJS.ErrnoException).code !== "EINVAL") throw e;
      this.refused = true;
      return false;
    }
  }
}
