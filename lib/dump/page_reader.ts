// Bulk reads of page frames for writers: an ELF dump (/proc/vmcore) is read straight from its file in large
// preads (no page cache of our own); other formats go through Dump.readPhys.
import { closeSync, openSync, readSync } from "node:fs";
import type { Dump } from "./dump.ts";
import { ElfDump, type ElfSegment } from "./elf.ts";

/** Reads runs of page frames into caller buffers. */
export class PageReader {
  /** Bytes read from the input so far. */
  bytesRead = 0;
  private readonly fd: number;
  /** Disjoint PT_LOAD pieces sorted by address, for ELF input. */
  private readonly pieces: { start: number; end: number; seg: ElfSegment }[] = [];

  constructor(private readonly dump: Dump) {
    this.fd = dump instanceof ElfDump && dump.format === "elf" ? openSync(dump.path, "r") : -1;
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
    runReads(this.fd, ops, into);
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
    if (this.fd >= 0) closeSync(this.fd);
  }
}

/**
 * Runs a PageReader plan on `fd` into `into`: preads, and zeros where the plan says so or the file ends early.
 * @example const ops: number[] = []; reader.plan(pfn, n, 0, ops); runReads(fd, ops, buf)
 */
export function runReads(fd: number, ops: ArrayLike<number>, into: Uint8Array): void {
  for (let i = 0; i < ops.length; i += 3) {
    const off = ops[i]!;
    const len = ops[i + 1]!;
    const at = ops[i + 2]!;
    if (off < 0) {
      into.fill(0, at, at + len);
      continue;
    }
    let done = 0;
    while (done < len) {
      const n = readSync(fd, into, at + done, len - done, off + done);
      if (n === 0) break;
      done += n;
    }
    if (done < len) into.fill(0, at + done, at + len);
  }
}
