// Writes makedumpfile's kdump-compressed format (header_version 6) as crash and makedumpfile read it:
// disk_dump_header, kdump_sub_header with the ELF notes and VMCOREINFO, both bitmaps, one page_desc per dumped
// page (zero pages share one, as makedumpfile's pd_zero), then the pages. Marked incomplete until finish().
import { DUMP_DH_COMPRESSED_INCOMPLETE, KDUMP_SIGNATURE, type Utsname } from "./kdump_compressed.ts";
import type { DumpNote } from "./dump.ts";
import type { CompressedBatch } from "./codecs/batch.ts";
import { encodeNotes } from "./elf_writer.ts";
import type { DumpSink } from "./sink.ts";

const SUB_HEADER_SIZE = 104;
const PAGE_DESC_SIZE = 24;

/** What the headers say. */
export interface KdumpWriterInput {
  /** Page size (= block_size). */
  pageSize: number;
  /** Page frames the bitmaps describe. */
  maxMapnr: number;
  /** First bitmap: frames in the dump, as sorted, disjoint [start, end) runs of frames (written as bits). */
  present: [start: number, end: number][];
  /** Second bitmap: frames written, each with a page_desc. */
  dumpable: Uint8Array;
  /** Set bits of `dumpable`. */
  numDumpable: number;
  /** The -d level (sub header dump_level). */
  level: number;
  /** disk_dump_header.status compression bit: zlib 0x1, lzo 0x2, zstd 0x20, or 0. */
  codecFlag: number;
  /** The crashed kernel's utsname. */
  utsname: Utsname;
  /** Crash time, seconds since the epoch. */
  timestamp: number;
  /** CPUs of the crashed system (NT_PRSTATUS notes). */
  nrCpus: number;
  /** phys_base. */
  physBase: bigint;
  /** The notes (NT_PRSTATUS per CPU, VMCOREINFO), written into the sub header. */
  notes: DumpNote[];
}

/** Bytes of the first bitmap made and written at once. */
const BITMAP_PIECE = 64 * 1024;

/** Bytes [at, at + length) of the bitmap whose set frames are `runs` (sorted [start, end) runs). */
export function runsPiece(runs: [number, number][], at: number, length: number): Uint8Array {
  const b = new Uint8Array(length);
  const [lo, hi] = [at * 8, (at + length) * 8];
  for (const [start, end] of runs) {
    if (end <= lo || start >= hi) continue;
    for (let pfn = Math.max(start, lo); pfn < Math.min(end, hi); pfn++) {
      if ((pfn & 7) === 0 && pfn + 8 <= Math.min(end, hi)) {
        b[(pfn - lo) >>> 3] = 0xff;
        pfn += 7;
      } else b[(pfn - lo) >>> 3]! |= 1 << (pfn & 7);
    }
  }
  return b;
}

/** Offsets of the parts of a kdump-compressed file. */
export interface KdumpLayout {
  /** Blocks of the sub header (with notes). */
  subHdrSize: number;
  /** Blocks of both bitmaps. */
  bitmapBlocks: number;
  /** Offset of the first bitmap. */
  bitmapAt: number;
  /** Offset of the page_desc table. */
  descAt: number;
  /** Offset of the shared zero page, or -1 when zero pages are not dropped. */
  zeroAt: number;
  /** Offset of the first page's data. */
  dataAt: number;
}

/** Streams one kdump-compressed file into a DumpSink: begin(), writeBatch() for every dumpable page, finish(). */
export class KdumpWriter {
  readonly layout: KdumpLayout;
  private readonly subHeader: Uint8Array;
  private dataPos: number;
  /** Zero pages found (written as the shared zero page). */
  zeroPages = 0;

  constructor(
    private readonly sink: DumpSink,
    private readonly input: KdumpWriterInput,
  ) {
    const bs = input.pageSize;
    const { bytes: notes, descAt: noteDescs } = encodeNotes(input.notes);
    const subHdrSize = Math.ceil((SUB_HEADER_SIZE + notes.length) / bs);
    const half = Math.ceil(Math.ceil(input.maxMapnr / 8) / bs) * bs;
    const bitmapAt = (1 + subHdrSize) * bs;
    const descAt = bitmapAt + 2 * half;
    const zeroAt = input.level & 1 ? descAt + input.numDumpable * PAGE_DESC_SIZE : -1;
    const dataAt = descAt + input.numDumpable * PAGE_DESC_SIZE + (zeroAt >= 0 ? bs : 0);
    this.layout = { subHdrSize, bitmapBlocks: (2 * half) / bs, bitmapAt, descAt, zeroAt, dataAt };
    this.dataPos = dataAt;

    const sub = new Uint8Array(subHdrSize * bs);
    const s = new DataView(sub.buffer);
    const info = input.notes.findIndex((n) => n.name === "VMCOREINFO");
    const noteAt = bs + SUB_HEADER_SIZE;
    s.setBigInt64(0, input.physBase, true); // phys_base (8)
    s.setInt32(8, input.level, true); // dump_level (4)
    s.setInt32(12, 0, true); // split (4)
    s.setBigUint64(16, 0n, true); // start_pfn (8)
    s.setBigUint64(24, 0n, true); // end_pfn (8)
    s.setBigUint64(32, info >= 0 ? BigInt(noteAt + noteDescs[info]!) : 0n, true); // offset_vmcoreinfo (8)
    s.setBigUint64(40, info >= 0 ? BigInt(input.notes[info]!.desc.length) : 0n, true); // size_vmcoreinfo (8)
    s.setBigUint64(48, BigInt(noteAt), true); // offset_note (8)
    s.setBigUint64(56, BigInt(notes.length), true); // size_note (8)
    s.setBigUint64(64, 0n, true); // offset_eraseinfo (8)
    s.setBigUint64(72, 0n, true); // size_eraseinfo (8)
    s.setBigUint64(80, 0n, true); // start_pfn_64 (8)
    s.setBigUint64(88, 0n, true); // end_pfn_64 (8)
    s.setBigUint64(96, BigInt(input.maxMapnr), true); // max_mapnr_64 (8)
    sub.set(notes, SUB_HEADER_SIZE);
    this.subHeader = sub;
  }

  /** Bytes of the file so far (headers, tables, and the pages written). */
  get size(): number {
    return this.dataPos;
  }

  /** The disk_dump_header block with `status`. */
  private header(status: number): Uint8Array {
    const bs = this.input.pageSize;
    const b = new Uint8Array(bs);
    const h = new DataView(b.buffer);
    const enc = new TextEncoder();
    b.set(enc.encode(KDUMP_SIGNATURE), 0); // signature (8)
    h.setInt32(8, 6, true); // header_version (4)
    const u = this.input.utsname;
    [u.sysname, u.nodename, u.release, u.version, u.machine, u.domainname].forEach((s, i) => b.set(enc.encode(s).subarray(0, 64), 12 + 65 * i)); // utsname (6 × 65)
    h.setBigInt64(408, BigInt(this.input.timestamp), true); // timestamp.tv_sec (8)
    h.setBigInt64(416, 0n, true); // timestamp.tv_usec (8)
    h.setUint32(424, status, true); // status (4)
    h.setInt32(428, bs, true); // block_size (4)
    h.setInt32(432, this.layout.subHdrSize, true); // sub_hdr_size (4)
    h.setUint32(436, this.layout.bitmapBlocks, true); // bitmap_blocks (4)
    h.setUint32(440, Math.min(this.input.maxMapnr, 0xffffffff), true); // max_mapnr, 32-bit (4)
    h.setUint32(444, 0, true); // total_ram_blocks (4)
    h.setUint32(448, 0, true); // device_blocks (4)
    h.setUint32(452, 0, true); // written_blocks (4)
    h.setUint32(456, 0, true); // current_cpu (4)
    h.setInt32(460, this.input.nrCpus, true); // nr_cpus (4)
    return b;
  }

  /**
   * Reserves the headers, bitmaps and page_desc table, then writes them (status: incomplete). After this, a
   * failure leaves a file crash and makedumpfile read as an incomplete dump. A stream (flattened) gets its one
   * header record here, complete, as makedumpfile writes it: a cut stream lacks the end marker instead.
   */
  async begin(): Promise<void> {
    const { bitmapAt, bitmapBlocks, zeroAt, dataAt } = this.layout;
    const bs = this.input.pageSize;
    this.sink.reserve(0, dataAt);
    await this.sink.write(0, this.header(this.input.codecFlag | (this.sink.stream ? 0 : DUMP_DH_COMPRESSED_INCOMPLETE)));
    await this.sink.write(bs, this.subHeader);
    const half = (bitmapBlocks * bs) / 2;
    // the first bitmap is made from the runs a piece at a time, the second written as it is: no whole copy of either
    for (let at = 0; at < half; at += BITMAP_PIECE) await this.sink.write(bitmapAt + at, runsPiece(this.input.present, at, Math.min(BITMAP_PIECE, half - at)));
    const body = this.input.dumpable.subarray(0, half);
    await this.sink.write(bitmapAt + half, body);
    if (body.length < half) await this.sink.write(bitmapAt + half + body.length, new Uint8Array(half - body.length));
    if (zeroAt >= 0) await this.sink.write(zeroAt, new Uint8Array(bs));
    // from here the page data is appended in order (writeBatch)
    this.sink.appendFrom?.(dataAt);
  }

  /**
   * Writes a batch: its pages' data at the end of the file, then their page_descs. `segments` place the pages in
   * the page_desc table: [rank, count] pairs in batch order, rank being the page's index among the dumpable
   * frames. Batches may come in any order (the collector writes the kernel image and the log first).
   */
  async writeBatch(b: CompressedBatch, segments: [number, number][]): Promise<void> {
    const bs = this.input.pageSize;
    const descs = new Uint8Array(b.count * PAGE_DESC_SIZE);
    const d = new DataView(descs.buffer);
    let pos = this.dataPos;
    for (let i = 0; i < b.count; i++) {
      const o = i * PAGE_DESC_SIZE;
      const zero = b.sizes[i] === 0;
      if (zero) this.zeroPages++;
      // offset (8) as two halves: no BigInt per page
      const offset = zero ? this.layout.zeroAt : pos;
      d.setUint32(o, offset % 2 ** 32, true);
      d.setUint32(o + 4, Math.floor(offset / 2 ** 32), true);
      d.setUint32(o + 8, zero ? bs : b.sizes[i]!, true); // size (4)
      d.setUint32(o + 12, zero ? 0 : b.flags[i]!, true); // flags (4)
      // page_flags (8): 0, as the new array holds
      if (!zero) pos += b.sizes[i]!;
    }
    if (b.data.length) await this.sink.write(this.dataPos, b.data);
    let at = 0;
    for (const [rank, count] of segments) {
      await this.sink.write(this.layout.descAt + rank * PAGE_DESC_SIZE, descs.subarray(at * PAGE_DESC_SIZE, (at + count) * PAGE_DESC_SIZE));
      at += count;
    }
    this.dataPos = pos;
  }

  /** Marks the dump complete (rewrites the header) and makes it durable. */
  async finish(): Promise<void> {
    // every page's bytes written before the header says complete
    this.sink.flush?.();
    if (!this.sink.stream) await this.sink.write(0, this.header(this.input.codecFlag));
    await this.sink.finish();
  }
}
