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

  /**
   * Reads frames [pfn, pfn + count) into `into` at `at`. Bytes the dump does not hold read as zeros.
   * @example reader.read(0x1000, 256, buf)
   */
  read(pfn: number, count: number, into: Uint8Array, at = 0): void {
    const ps = this.dump.pageSize;
    const length = count * ps;
    this.bytesRead += length;
    if (this.fd < 0) {
      into.set(this.dump.readPhys(BigInt(pfn) * BigInt(ps), length, true), at);
      return;
    }
    const base = pfn * ps;
    const end = base + length;
    let addr = base; // bytes before addr are filled
    for (const pc of this.pieces) {
      if (pc.end <= addr) continue;
      if (pc.start >= end) break;
      const a = Math.max(addr, pc.start);
      const b = Math.min(end, pc.end);
      if (a > addr) into.fill(0, at + (addr - base), at + (a - base));
      const rel = a - pc.seg.paddr;
      const fromFile = Math.max(0, Math.min(b - a, pc.seg.filesz - rel));
      let done = 0;
      while (done < fromFile) {
        const n = readSync(this.fd, into, at + (a - base) + done, fromFile - done, pc.seg.offset + rel + done);
        if (n === 0) break;
        done += n;
      }
      if (done < b - a) into.fill(0, at + (a - base) + done, at + (b - base));
      addr = b;
    }
    if (addr < end) into.fill(0, at + (addr - base), at + length);
  }

  /** Closes the file it opened (not the dump). */
  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
  }
}
