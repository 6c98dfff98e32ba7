// Random access to the bytes of a dump file through a small LRU cache of fixed-size blocks, so readers never hold
// the whole file in memory. A ByteSource is what every dump reader parses; the flattened reader provides its own.
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { DumpFormatError } from "../errors.ts";

/** Bytes addressed by file offset. `read` may return a view of a cached block: read it, do not modify it. */
export interface ByteSource {
  /** Size in bytes. */
  readonly size: number;
  /** `length` bytes at `offset`; throws DumpFormatError when the range passes the end. */
  read(offset: number, length: number): Uint8Array;
  /** Releases the file. */
  close(): void;
}

/** Keeps the most recently used values, up to `capacity` of them (a Map keeps insertion order). */
export class Lru<K, V> {
  private readonly map = new Map<K, V>();
  constructor(readonly capacity: number) {}
  /** The value for `key`, marked as most recently used. */
  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  /** Stores `value`, evicting the least recently used entry when full. */
  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as K);
  }
}

/** Reads of at least this many bytes (kallsyms names, BTF) go straight to the file. */
const DIRECT_READ = 256 * 1024;

/** A file read in `blockSize` pieces through an LRU of `cacheBlocks` blocks (default 4 KiB × 1024 = 4 MiB). */
export class FileSource implements ByteSource {
  readonly size: number;
  private fd: number;
  private readonly cache: Lru<number, Uint8Array>;

  constructor(
    readonly path: string,
    private readonly blockSize = 4096,
    cacheBlocks = 1024,
  ) {
    this.fd = openSync(path, "r");
    this.size = fstatSync(this.fd).size;
    this.cache = new Lru(cacheBlocks);
  }

  read(offset: number, length: number): Uint8Array {
    if (offset < 0 || length < 0 || offset + length > this.size)
      throw new DumpFormatError(`read of ${length} bytes past the end of ${this.path} (${this.size} bytes)`, {
        offset,
        hint: "the dump is truncated; was it copied completely?",
      });
    const bs = this.blockSize;
    const first = Math.floor(offset / bs);
    const last = Math.floor((offset + length - 1) / bs);
    if (length === 0) return new Uint8Array(0);
    if (first === last) {
      const b = this.block(first);
      return b.subarray(offset - first * bs, offset - first * bs + length);
    }
    if (length >= DIRECT_READ) return this.readDirect(offset, length);
    const out = new Uint8Array(length);
    for (let n = first, pos = 0; n <= last; n++) {
      const b = this.block(n);
      const from = n === first ? offset - first * bs : 0;
      const take = Math.min(b.length - from, length - pos);
      out.set(b.subarray(from, from + take), pos);
      pos += take;
    }
    return out;
  }

  private block(n: number): Uint8Array {
    let b = this.cache.get(n);
    if (!b) {
      b = this.readDirect(n * this.blockSize, Math.min(this.blockSize, this.size - n * this.blockSize));
      this.cache.set(n, b);
    }
    return b;
  }

  /**
   * `length` bytes at a file offset beyond 2^53 (where a number is no longer exact), straight from the file:
   * /proc/kcore under 5-level paging places its segments there.
   */
  readBig(offset: bigint, length: number): Uint8Array {
    const b = new Uint8Array(length);
    let got = 0;
    while (got < length) {
      const r = readSync(this.fd, b, got, length - got, (offset + BigInt(got)) as unknown as number);
      if (r === 0) throw new DumpFormatError(`unexpected end of ${this.path} at 0x${(offset + BigInt(got)).toString(16)}`, { hint: "the file shrank while being read" });
      got += r;
    }
    return b;
  }

  /** `length` bytes at `offset` straight from the file (large reads bypass the cache instead of flushing it). */
  private readDirect(offset: number, length: number): Uint8Array {
    const b = new Uint8Array(length);
    let got = 0;
    while (got < length) {
      const r = readSync(this.fd, b, got, length - got, offset + got);
      if (r === 0) throw new DumpFormatError(`unexpected end of ${this.path}`, { offset: offset + got, hint: "the file shrank while being read" });
      got += r;
    }
    return b;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/** Bytes already in memory (tests, small fixtures). */
export class BufferSource implements ByteSource {
  constructor(private readonly bytes: Uint8Array) {}
  get size(): number {
    return this.bytes.length;
  }
  read(offset: number, length: number): Uint8Array {
    if (offset < 0 || length < 0 || offset + length > this.bytes.length)
      throw new DumpFormatError(`read of ${length} bytes past the end (${this.bytes.length} bytes)`, {
        offset,
        hint: "the dump is truncated; was it copied completely?",
      });
    return this.bytes.subarray(offset, offset + length);
  }
  close(): void {}
}

/** A little-endian DataView over `bytes` (the dumps we read are x86_64: little-endian, stated once here). */
export function le(bytes: Uint8Array): { u16(o: number): number; u32(o: number): number; i32(o: number): number; u64(o: number): bigint; i64(o: number): bigint; num(o: number): number } {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    u16: (o) => v.getUint16(o, true),
    u32: (o) => v.getUint32(o, true),
    i32: (o) => v.getInt32(o, true),
    u64: (o) => v.getBigUint64(o, true),
    i64: (o) => v.getBigInt64(o, true),
    /** A u64 that must fit a JS number (file offsets, sizes); larger values are reported as-is. */
    num: (o) => Number(v.getBigUint64(o, true)),
  };
}

/** Where a file range past 2^53 is seen: `compact` (a number) stands for the exact offset `real`. */
export interface FarRange {
  compact: number;
  real: bigint;
  length: number;
}

/** Offsets at and above this are compact stand-ins for ranges past 2^53 (see RebasedSource). */
export const FAR_BASE = 2 ** 52;

/**
 * A FileSource whose ranges past 2^53 bytes are read through compact number offsets from FAR_BASE up, so readers
 * keep number offsets; each such read goes to the file by its exact bigint offset, 4 KiB blocks cached.
 */
export class RebasedSource implements ByteSource {
  private readonly cache = new Lru<number, Uint8Array>(1024);
  constructor(
    private readonly inner: FileSource,
    private readonly far: FarRange[],
  ) {}
  get size(): number {
    return Math.max(this.inner.size, ...this.far.map((f) => f.compact + f.length));
  }
  read(offset: number, length: number): Uint8Array {
    if (offset < FAR_BASE) return this.inner.read(offset, length);
    const out = new Uint8Array(length);
    for (let pos = 0; pos < length; ) {
      const at = offset + pos;
      const block = Math.floor(at / 4096) * 4096;
      let b = this.cache.get(block);
      if (!b) {
        const f = this.far.find((x) => block >= x.compact && block < x.compact + x.length);
        if (!f) throw new DumpFormatError("read outside the file's segments", { offset: at, hint: "the dump's program headers are inconsistent" });
        b = this.inner.readBig(f.real + BigInt(block - f.compact), Math.min(4096, f.compact + f.length - block));
        this.cache.set(block, b);
      }
      const from = at - block;
      const take = Math.min(b.length - from, length - pos);
      if (take <= 0) throw new DumpFormatError("read past a segment's end", { offset: at, hint: "the dump's program headers are inconsistent" });
      out.set(b.subarray(from, from + take), pos);
      pos += take;
    }
    return out;
  }
  close(): void {
    this.inner.close();
  }
}
