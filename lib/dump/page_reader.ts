// Bulk reads of page frames for writers: an ELF dump (/proc/vmcore) is read straight from its file in large
// preads (no page cache of our own), or, for /proc/vmcore, through mmap windows (VmcoreWindows); other formats go
// through Dump.readPhys.
import { closeSync, fstatSync, openSync, readSync, realpathSync } from "node:fs";
import { copyOut, haveMmap, mapFile, unmap, type Mapping } from "../sys/mmap.ts";
import type { Dump } from "./dump.ts";
import { ElfDump, type ElfSegment } from "./elf.ts";

/** Reads runs of page frames into caller buffers. */
export class PageReader {
  /** Bytes read from the input so far. */
  bytesRead = 0;
  private readonly fd: number;
  /** Disjoint PT_LOAD pieces sorted by address, for ELF input. */
  private readonly pieces: { start: number; end: number; seg: ElfSegment }[] = [];

  /** mmap windows over the file, when reading through them (see VmcoreWindows). */
  private readonly windows: VmcoreWindows | null;

  /** `map`: read through mmap windows (default: when the dump is /proc/vmcore and mmap is there). */
  constructor(
    private readonly dump: Dump,
    opts: { map?: boolean } = {},
  ) {
    this.fd = dump instanceof ElfDump && dump.format === "elf" ? openSync(dump.path, "r") : -1;
    this.windows = this.fd >= 0 && (opts.map ?? mapByDefault(dump.path)) && haveMmap() ? new VmcoreWindows(this.fd) : null;
    if (this.fd < 0) return;
    let covered = -1;
    for (const seg of [...(dump as ElfDump).segments].filter((s) => s.memsz > 0).sort((a, b) => a.paddr - b.paddr)) {
      const end = seg.paddr + seg.memsz;
      if (end <= covered) continue;
      this.pieces.push({ start: Math.max(seg.paddr, covered), end, seg });
      covered = end;
    }
  }

  /** The file an ELF dump's frames are read from (a worker thread opens its own), or null for other formats. */
  get path(): string | null {
    return this.fd < 0 ? null : (this.dump as ElfDump).path;
  }

  /**
   * Reads frames [pfn, pfn + count) into `into` at `at`. Bytes the dump does not hold read as zeros.
   * @example reader.read(0x1000, 256, buf)
   */
  read(pfn: number, count: number, into: Uint8Array, at = 0): void {
    const ps = this.dump.pageSize;
    if (this.fd < 0) {
      this.bytesRead += count * ps;
      into.set(this.dump.readPhys(BigInt(pfn) * BigInt(ps), count * ps, true), at);
      return;
    }
    const ops: number[] = [];
    this.plan(pfn, count, at, ops);
    runReads(this.fd, ops, into, this.windows);
  }

  /** True when frames are read through mmap windows (a worker filling batches should map too). */
  get mapped(): boolean {
    return this.windows !== null;
  }

  /**
   * Appends to `ops` how to fill frames [pfn, pfn + count) of an ELF dump at `at` of a buffer, as triples
   * [file offset, length, buffer offset] where a file offset of -1 means zeros (what the dump does not hold); run
   * them with runReads() on any descriptor of the same file. Counts the bytes in bytesRead.
   */
  plan(pfn: number, count: number, at: number, ops: number[]): void {
    const ps = this.dump.pageSize;
    const length = count * ps;
    this.bytesRead += length;
    const base = pfn * ps;
    const end = base + length;
    let addr = base; // bytes before addr are planned
    for (const pc of this.pieces) {
      if (pc.end <= addr) continue;
      if (pc.start >= end) break;
      const a = Math.max(addr, pc.start);
      const b = Math.min(end, pc.end);
      if (a > addr) ops.push(-1, a - addr, at + (addr - base));
      const rel = a - pc.seg.paddr;
      const fromFile = Math.max(0, Math.min(b - a, pc.seg.filesz - rel));
      if (fromFile > 0) ops.push(pc.seg.offset + rel, fromFile, at + (a - base));
      if (fromFile < b - a) ops.push(-1, b - a - fromFile, at + (a - base) + fromFile);
      addr = b;
    }
    if (addr < end) ops.push(-1, end - addr, at + (addr - base));
  }

  /** Closes the file it opened (not the dump). */
  close(): void {
    this.windows?.close();
    if (this.fd >= 0) closeSync(this.fd);
  }
}

/**
 * Whether a dump is read through mmap windows by default: /proc/vmcore (a dump file on disk reads faster by pread).
 * KDUMP_MMAP=1 maps any ELF dump (tests run the mapped path on lab dump files); KDUMP_NO_MMAP=1 maps none.
 */
export function mapByDefault(path: string): boolean {
  if (process.env.KDUMP_MMAP === "1") return true;
  try {
    return realpathSync(path) === "/proc/vmcore";
  } catch {
    return false;
  }
}

/**
 * Reads of /proc/vmcore through mmap windows of 4 MiB, as makedumpfile reads it (mmap of /proc/vmcore: kernel 3.11+).
 * A read(2) of /proc/vmcore maps, copies and unmaps each old-memory page in the kernel (copy_oldmem_page, ioremap);
 * a window's frames are mapped once (remap_pfn_range). In one 64 GiB TCG capture kernel makedumpfile 1.7.8 took
 * 24.5 s, and 38.7 s with --non-mmap (bench/scale.ts --mdf-non-mmap, 2026-12-02). Bytes a window cannot cover (the
 * kernel refused the mapping, the file's unaligned tail) are read by pread.
 */
export class VmcoreWindows {
  /** Window size: makedumpfile's mmap_region_size. */
  static readonly SIZE = 4 << 20;
  private current: Mapping | null = null;
  private readonly size: number;
  /** Set when the kernel refused a mapping: everything after goes by pread. */
  private refused = false;
  /** Windows mapped so far. */
  mapped = 0;

  constructor(private readonly fd: number) {
    // /proc/vmcore's size is page-aligned (each PT_LOAD starts on a page for mmap); a window never passes it
    this.size = Math.floor(fstatSync(fd).size / 4096) * 4096;
  }

  /**
   * Copies file bytes [off, off + len) into `into` at `at` through windows; returns how many it copied from the
   * start of the range (less than len when the rest must be read by pread).
   */
  copy(off: number, len: number, into: Uint8Array, at: number): number {
    let done = 0;
    while (done < len && !this.refused) {
      const pos = off + done;
      let w = this.current;
      if (!w || pos < w.offset || pos >= w.offset + w.length) {
        const start = pos - (pos % VmcoreWindows.SIZE);
        const length = Math.min(VmcoreWindows.SIZE, this.size - start);
        if (length <= 0 || pos >= start + length) break;
        if (w) unmap(w);
        w = this.current = mapFile(this.fd, start, length);
        if (!w) {
          this.refused = true;
          break;
        }
        this.mapped++;
      }
      const n = Math.min(len - done, w.offset + w.length - pos);
      if (at + done + n > into.length) throw new RangeError(`a read of ${n} bytes at ${at + done} passes the end of a ${into.length}-byte buffer`);
      copyOut(w, pos - w.offset, into, at + done, n);
      done += n;
    }
    return done;
  }

  /** Unmaps the last window. */
  close(): void {
    if (this.current) unmap(this.current);
    this.current = null;
  }
}

/**
 * Runs a PageReader plan on `fd` into `into`: preads (or copies from `windows`, mapped over the same file), and
 * zeros where the plan says so or the file ends early.
 * @example const ops: number[] = []; reader.plan(pfn, n, 0, ops); runReads(fd, ops, buf)
 */
export function runReads(fd: number, ops: ArrayLike<number>, into: Uint8Array, windows?: VmcoreWindows | null): void {
  for (let i = 0; i < ops.length; i += 3) {
    const off = ops[i]!;
    const len = ops[i + 1]!;
    const at = ops[i + 2]!;
    if (off < 0) {
      into.fill(0, at, at + len);
      continue;
    }
    let done = windows ? windows.copy(off, len, into, at) : 0;
    while (done < len) {
      const n = readSync(fd, into, at + done, len - done, off + done);
      if (n === 0) break;
      done += n;
    }
    if (done < len) into.fill(0, at + done, at + len);
  }
}
