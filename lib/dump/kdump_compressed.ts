// makedumpfile's kdump-compressed format ("KDUMP   ", header versions 1–6): disk_dump_header, kdump_sub_header,
// the two page bitmaps and one page_desc per dumped page, each page raw or zlib/lzo/snappy/zstd-compressed.
import { BadDataError, DumpFormatError, FaultError } from "../errors.ts";
import { codecFor, decompressPage } from "./codecs/codec.ts";
import type { Dump, DumpNote, PhysRange } from "./dump.ts";
import { parseNotes, vmcoreinfoText } from "./notes.ts";
import { le, Lru, type ByteSource } from "./source.ts";

/** The signature at offset 0. */
export const KDUMP_SIGNATURE = "KDUMP   ";
/** disk_dump_header.status bit: makedumpfile stopped before writing every page. */
export const DUMP_DH_COMPRESSED_INCOMPLETE = 0x8;
const PAGE_DESC_SIZE = 24;
/** Bitmap bytes per rank-index entry (512 page frames): a lookup counts at most this many bytes. */
const RANK_BYTES = 64;

/** True when `head` starts with the kdump-compressed signature. */
export function isKdumpCompressed(head: Uint8Array): boolean {
  return head.length >= 8 && new TextDecoder().decode(head.subarray(0, 8)) === KDUMP_SIGNATURE;
}

/** struct new_utsname as the header copies it. */
export interface Utsname {
  sysname: string;
  nodename: string;
  release: string;
  version: string;
  machine: string;
  domainname: string;
}

/** The parts of disk_dump_header and kdump_sub_header the reader uses. */
export interface KdumpHeader {
  /** header_version (6 for makedumpfile 1.5+). */
  version: number;
  /** The crashed kernel's utsname (filled by makedumpfile from the dump). */
  utsname: Utsname;
  /** When the dump was written, seconds since the epoch. */
  timestamp: number;
  /** status flags (DUMP_DH_COMPRESSED_INCOMPLETE …). */
  status: number;
  /** Block size = page size. */
  blockSize: number;
  /** Blocks of the sub header. */
  subHdrSize: number;
  /** Blocks of both bitmaps together. */
  bitmapBlocks: number;
  /** Number of page frames the bitmaps describe. */
  maxMapnr: number;
  /** CPUs of the crashed system. */
  nrCpus: number;
  /** phys_base of the crashed kernel (signed). */
  physBase: bigint;
  /** The -d dump level. */
  dumpLevel: number;
  /** Non-zero for one part of a split (--split) dump. */
  split: number;
}

/** A kdump-compressed dump over any ByteSource (a file, or a flattened file reassembled on the fly). */
export class KdumpDump implements Dump {
  readonly header: KdumpHeader;
  readonly pageSize: number;
  readonly notes: DumpNote[];
  readonly vmcoreinfo: string | null;
  private readonly bitmap2: number;
  private readonly descs: number;
  private readonly dumpable: number;
  /** Set bits of the dumpable bitmap before each RANK_BYTES-byte stretch of it (the rank index). */
  private readonly prefix: Uint32Array;
  /** Decompressed pages by data offset (makedumpfile's zero pages all share one). */
  private readonly pages = new Lru<number, Uint8Array>(256);
  private rangeList: PhysRange[] | null = null;

  /** utsname.machine of the header ("x86_64", "aarch64"). */
  get machine(): string {
    return this.header.utsname.machine;
  }

  constructor(
    private readonly src: ByteSource,
    readonly path: string,
    /** "kdump", or "flat" when `src` is a reassembled flattened file. */
    readonly format = "kdump",
  ) {
    const bad = (msg: string, offset?: number) => new DumpFormatError(`${path}: ${msg}`, { offset, hint: "the dump is truncated or corrupted" });
    if (src.size < 464) throw bad(`kdump header truncated (${src.size} bytes)`);
    const hb = src.read(0, 464);
    if (!isKdumpCompressed(hb)) throw bad("no KDUMP signature", 0);
    const h = le(hb);
    const version = h.i32(8);
    const blockSize = h.i32(428);
    const subHdrSize = h.i32(432);
    const bitmapBlocks = h.u32(436);
    if (version < 1 || version > 64) throw bad(`header_version ${version} is not one makedumpfile writes`, 8);
    if (blockSize < 512 || blockSize > 1 << 20 || (blockSize & (blockSize - 1)) !== 0) throw bad(`block_size ${blockSize} is not a page size`, 428);
    if (subHdrSize < 0 || bitmapBlocks === 0 || (1 + subHdrSize + bitmapBlocks) * blockSize > src.size)
      throw bad(`sub header (${subHdrSize} blocks) and bitmaps (${bitmapBlocks} blocks) run past the end of the file (${src.size} bytes)`, 432);
    const str = (o: number) => new TextDecoder().decode(hb.subarray(o, o + 65)).replace(/\0[\s\S]*$/, "");
    const sub = le(src.read(blockSize, 104));
    const maxMapnr = version >= 6 && sub.num(96) > 0 ? sub.num(96) : h.u32(440); // max_mapnr_64, else the 32-bit field
    this.header = {
      version,
      utsname: { sysname: str(12), nodename: str(77), release: str(142), version: str(207), machine: str(272), domainname: str(337) },
      timestamp: Number(h.i64(408)),
      status: h.u32(424),
      blockSize,
      subHdrSize,
      bitmapBlocks,
      maxMapnr,
      nrCpus: h.i32(460),
      physBase: sub.i64(0),
      dumpLevel: sub.i32(8),
      split: version >= 2 ? sub.i32(12) : 0,
    };
    if (this.header.split) throw new DumpFormatError(`${path}: one part of a split dump`, { hint: "join the parts first with makedumpfile --reassemble" });
    this.pageSize = blockSize;
    const half = (bitmapBlocks * blockSize) / 2;
    if (maxMapnr > half * 8) throw bad(`max_mapnr ${maxMapnr} exceeds the bitmap (${half * 8} pages)`, 440);
    this.bitmap2 = (1 + subHdrSize) * blockSize + half;
    this.descs = (1 + subHdrSize + bitmapBlocks) * blockSize;

    const region = (what: string, at: number, off: number, size: number) => {
      if (off < 0 || size < 0 || off + size > src.size) throw bad(`${what} (0x${off.toString(16)}, ${size} bytes) lies outside the file`, blockSize + at);
      return src.read(off, size).slice();
    };
    this.notes = version >= 4 && sub.num(56) > 0 ? parseNotes(region("note block", 48, sub.num(48), sub.num(56)), sub.num(48)) : [];
    this.vmcoreinfo =
      version >= 3 && sub.num(40) > 0
        ? new TextDecoder().decode(region("vmcoreinfo", 32, sub.num(32), sub.num(40))).replace(/\0+$/, "")
        : vmcoreinfoText(this.notes);

    // rank index over the dumpable bitmap, read one block at a time
    const bytes = Math.ceil(maxMapnr / 8);
    this.prefix = new Uint32Array(Math.ceil(bytes / RANK_BYTES) + 1);
    let total = 0;
    let block: Uint8Array = new Uint8Array(0);
    for (let off = 0; off < bytes; off += RANK_BYTES) {
      if (off % blockSize === 0) block = src.read(this.bitmap2 + off, Math.min(blockSize, bytes - off));
      const at = off % blockSize;
      const n = Math.min(RANK_BYTES, bytes - off);
      this.prefix[off / RANK_BYTES] = total;
      total += popcount(block.subarray(at, at + n), n * 8);
    }
    this.prefix[this.prefix.length - 1] = total;
    this.dumpable = total;
    if (this.descs + this.dumpable * PAGE_DESC_SIZE > src.size)
      throw bad(`page_desc table of ${this.dumpable} pages runs past the end of the file (${src.size} bytes)`, this.descs);
  }

  get ranges(): PhysRange[] {
    if (!this.rangeList) {
      const out: PhysRange[] = [];
      const ps = BigInt(this.pageSize);
      let runStart = -1;
      const bytes = Math.ceil(this.header.maxMapnr / 8);
      for (let off = 0; off < bytes; off += this.pageSize) {
        const chunk = this.src.read(this.bitmap2 + off, Math.min(this.pageSize, bytes - off));
        for (let i = 0; i < chunk.length; i++) {
          const byte = chunk[i]!;
          if ((byte === 0xff && runStart >= 0) || (byte === 0 && runStart < 0)) continue;
          for (let bit = 0; bit < 8; bit++) {
            const pfn = (off + i) * 8 + bit;
            if (pfn >= this.header.maxMapnr) break;
            const set = (byte >> bit) & 1;
            if (set && runStart < 0) runStart = pfn;
            if (!set && runStart >= 0) {
              out.push({ start: BigInt(runStart) * ps, end: BigInt(pfn) * ps });
              runStart = -1;
            }
          }
        }
      }
      if (runStart >= 0) out.push({ start: BigInt(runStart) * ps, end: BigInt(this.header.maxMapnr) * ps });
      this.rangeList = out;
    }
    return this.rangeList;
  }

  readPhys(paddr: bigint, length: number, zeroFill = false): Uint8Array {
    const out = new Uint8Array(length);
    const ps = this.pageSize;
    let addr = Number(paddr);
    for (let pos = 0; pos < length; ) {
      const pfn = Math.floor(addr / ps);
      const inPage = addr - pfn * ps;
      const take = Math.min(ps - inPage, length - pos);
      const page = this.page(pfn, zeroFill);
      if (page) out.set(page.subarray(inPage, inPage + take), pos);
      pos += take;
      addr += take;
    }
    return out;
  }

  /** The page frame's bytes, or null (zeroFill) / FaultError for a page the dump does not hold. */
  private page(pfn: number, zeroFill: boolean): Uint8Array | null {
    const absent = (why: string) => {
      if (zeroFill) return null;
      throw new FaultError(why, BigInt(pfn) * BigInt(this.pageSize));
    };
    if (pfn >= this.header.maxMapnr) return absent("physical address beyond the dump's memory");
    const bs = this.pageSize;
    const stretch = Math.floor(pfn / (RANK_BYTES * 8));
    const chunk = this.src.read(this.bitmap2 + stretch * RANK_BYTES, Math.min(RANK_BYTES, Math.ceil(this.header.maxMapnr / 8) - stretch * RANK_BYTES));
    const bit = pfn - stretch * RANK_BYTES * 8;
    if (!((chunk[bit >> 3]! >> (bit & 7)) & 1)) return absent(`page excluded from the dump (makedumpfile -d ${this.header.dumpLevel})`);
    const index = this.prefix[stretch]! + popcount(chunk, bit);
    const descAt = this.descs + index * PAGE_DESC_SIZE;
    const d = le(this.src.read(descAt, PAGE_DESC_SIZE));
    const offset = d.num(0);
    const size = d.u32(8);
    const flags = d.u32(12);
    if (offset === 0 && size === 0) return absent("page not written: the dump is incomplete");
    if (size > bs || size === 0 || offset + size > this.src.size)
      throw new DumpFormatError(`${this.path}: page_desc of pfn 0x${pfn.toString(16)} points outside the file (offset 0x${offset.toString(16)}, ${size} bytes)`, {
        offset: descAt,
        hint: "the dump is truncated or corrupted",
      });
    const cached = this.pages.get(offset);
    if (cached) return cached;
    const data = this.src.read(offset, size);
    const codec = codecFor(flags);
    let page: Uint8Array;
    if (codec) page = this.decompress(codec, data, pfn, offset);
    else if (size === bs) page = data.slice();
    else throw new DumpFormatError(`${this.path}: raw page of pfn 0x${pfn.toString(16)} has ${size} bytes, expected ${bs}`, { offset: descAt, hint: "the dump is corrupted" });
    this.pages.set(offset, page);
    return page;
  }

  /** decompressPage(), its error naming the page frame and where its data lies in the file. */
  private decompress(codec: NonNullable<ReturnType<typeof codecFor>>, data: Uint8Array, pfn: number, offset: number): Uint8Array {
    try {
      return decompressPage(codec, data, this.pageSize);
    } catch (e) {
      if (!(e instanceof BadDataError)) throw e;
      throw new BadDataError(`${this.path}: page of pfn 0x${pfn.toString(16)} (data at file offset 0x${offset.toString(16)}, ${data.length} bytes): ${e.message}`, {
        hint: "the dump is corrupted there: try another dump of this crash, or a copy made again from the original",
      });
    }
  }

  close(): void {
    this.src.close();
  }
}

const POP = new Uint8Array(256).map((_, i) => {
  let n = 0;
  for (let v = i; v; v >>= 1) n += v & 1;
  return n;
});

/** Set bits among the first `bits` bits of `bytes` (bit i is bit i%8 of byte i/8, as makedumpfile stores them). */
function popcount(bytes: Uint8Array, bits: number): number {
  let n = 0;
  const whole = bits >> 3;
  for (let i = 0; i < whole; i++) n += POP[bytes[i]!]!;
  if (bits & 7) n += POP[bytes[whole]! & ((1 << (bits & 7)) - 1)]!;
  return n;
}
