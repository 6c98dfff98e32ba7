// Test writers for makedumpfile's formats, so the readers can be proven on codecs Debian's makedumpfile lacks
// (snappy, zstd): a kdump-compressed writer fed from any Dump, and a flattener. Fixed fields carry their sizes.
import { closeSync, openSync, readSync, fstatSync, writeSync } from "node:fs";
import { deflateSync } from "node:zlib";
import type { Dump } from "../../lib/dump/dump.ts";
import { noteBlock } from "./_elfwriter.ts";
import { lzoCompress, snappyCompress } from "./_nativecodecs.ts";

export type CodecName = "raw" | "zlib" | "lzo" | "snappy" | "zstd";

/** Compressors by name, with their page_desc flag (zlib 0x1, lzo 0x2, snappy 0x4, zstd 0x20). */
export const compressors: Record<CodecName, { flag: number; compress: (page: Uint8Array) => Uint8Array }> = {
  raw: { flag: 0, compress: (p) => p },
  zlib: { flag: 0x1, compress: (p) => new Uint8Array(deflateSync(p)) },
  lzo: { flag: 0x2, compress: (p) => lzoCompress(p) },
  snappy: { flag: 0x4, compress: (p) => snappyCompress(p) },
  zstd: { flag: 0x20, compress: (p) => new Uint8Array(Bun.zstdCompressSync(p)) },
};

export interface KdumpWriteOptions {
  /** Codec of each page, by pfn (a constant codec, or a function to mix them). */
  codec: CodecName | ((pfn: number) => CodecName);
  /** Pages to leave out of the dumpable bitmap, as makedumpfile's -d filtering does. */
  exclude?: (pfn: number) => boolean;
}

/**
 * Writes `src` as a kdump-compressed file (header_version 6) at `path`; returns how many pages it wrote.
 * Layout: block 0 disk_dump_header, block 1… kdump_sub_header + vmcoreinfo + notes, the two bitmaps, the
 * page_desc table, then page data.
 */
export function writeKdump(src: Dump, path: string, opts: KdumpWriteOptions): number {
  const bs = src.pageSize;
  const ranges = src.ranges;
  const maxMapnr = Number(ranges[ranges.length - 1]!.end / BigInt(bs));
  const half = Math.ceil(Math.ceil(maxMapnr / 8) / bs) * bs;
  const bitmap = new Uint8Array(2 * half); // first half: pages in memory; second: pages dumped
  let present = 0;
  for (const r of ranges)
    for (let pfn = Number(r.start / BigInt(bs)); pfn < Number(r.end / BigInt(bs)); pfn++) {
      bitmap[pfn >> 3]! |= 1 << (pfn & 7);
      present++;
    }
  const info = new TextEncoder().encode(src.vmcoreinfo ?? "");
  const notes = noteBlock(src.notes.map((n) => ({ name: n.name, type: n.type, desc: n.desc })));
  const subHdrSize = Math.ceil((104 + info.length + notes.length) / bs);
  const bitmapAt = (1 + subHdrSize) * bs;
  const descAt = bitmapAt + 2 * half;
  let dataAt = descAt + present * 24; // room for every present page; only dumped ones are used
  const descs = new Uint8Array(present * 24);
  const dv = new DataView(descs.buffer);
  const fd = openSync(path, "w", 0o600);
  let dumped = 0;
  let zeroDesc: Uint8Array | null = null;
  let flagsUsed = 0;
  const codecOf = typeof opts.codec === "string" ? () => opts.codec as CodecName : opts.codec;
  for (const r of ranges)
    for (let pfn = Number(r.start / BigInt(bs)); pfn < Number(r.end / BigInt(bs)); pfn++) {
      const page = src.readPhys(BigInt(pfn) * BigInt(bs), bs);
      if (opts.exclude?.(pfn)) continue;
      bitmap[half + (pfn >> 3)]! |= 1 << (pfn & 7);
      const d = dumped * 24;
      dumped++;
      if (isZero(page) && zeroDesc) {
        descs.set(zeroDesc, d); // every zero page shares one page_desc, as makedumpfile's pd_zero
        continue;
      }
      const c = compressors[codecOf(pfn)];
      let data = c.compress(page);
      let flag = c.flag;
      if (data.length >= bs) [data, flag] = [page, 0]; // stored raw when compression does not shrink it
      flagsUsed |= flag;
      dv.setBigUint64(d, BigInt(dataAt), true); // offset (8)
      dv.setUint32(d + 8, data.length, true); // size (4)
      dv.setUint32(d + 12, flag, true); // flags (4)
      dv.setBigUint64(d + 16, 0n, true); // page_flags (8)
      writeSync(fd, data, 0, data.length, dataAt);
      dataAt += data.length;
      if (isZero(page)) zeroDesc = descs.slice(d, d + 24);
    }

  const head = new Uint8Array(bs);
  const h = new DataView(head.buffer);
  head.set(new TextEncoder().encode("KDUMP   "), 0); // signature (8)
  h.setInt32(8, 6, true); // header_version (4)
  const uts = ["Linux", "", /OSRELEASE=(.*)/.exec(src.vmcoreinfo ?? "")?.[1] ?? "", "", "x86_64", ""];
  uts.forEach((s, i) => head.set(new TextEncoder().encode(s), 12 + 65 * i)); // utsname (6 × 65)
  h.setBigInt64(408, BigInt(Math.floor(Date.now() / 1000)), true); // timestamp.tv_sec (8)
  h.setUint32(424, flagsUsed, true); // status (4)
  h.setInt32(428, bs, true); // block_size (4)
  h.setInt32(432, subHdrSize, true); // sub_hdr_size (4)
  h.setUint32(436, (2 * half) / bs, true); // bitmap_blocks (4)
  h.setUint32(440, Math.min(maxMapnr, 0xffffffff), true); // max_mapnr (4)
  h.setInt32(460, src.notes.filter((n) => n.name === "CORE" && n.type === 1).length, true); // nr_cpus (4)
  const sub = new Uint8Array(subHdrSize * bs);
  const s = new DataView(sub.buffer);
  const physBase = /NUMBER\(phys_base\)=(-?\d+)/.exec(src.vmcoreinfo ?? "")?.[1] ?? "0";
  s.setBigInt64(0, BigInt(physBase), true); // phys_base (8)
  s.setInt32(8, 1, true); // dump_level (4)
  s.setBigUint64(24, BigInt(maxMapnr), true); // end_pfn (8)
  s.setBigUint64(32, BigInt(bs + 104), true); // offset_vmcoreinfo (8)
  s.setBigUint64(40, BigInt(info.length), true); // size_vmcoreinfo (8)
  s.setBigUint64(48, BigInt(bs + 104 + info.length), true); // offset_note (8)
  s.setBigUint64(56, BigInt(notes.length), true); // size_note (8)
  s.setBigUint64(88, BigInt(maxMapnr), true); // end_pfn_64 (8)
  s.setBigUint64(96, BigInt(maxMapnr), true); // max_mapnr_64 (8)
  sub.set(info, 104);
  sub.set(notes, 104 + info.length);
  writeSync(fd, head, 0, bs, 0);
  writeSync(fd, sub, 0, sub.length, bs);
  writeSync(fd, bitmap, 0, bitmap.length, bitmapAt);
  writeSync(fd, descs, 0, descs.length, descAt);
  closeSync(fd);
  return dumped;
}

/**
 * Writes `input` in makedumpfile's flattened format: the 4 KiB big-endian header, the file in records of
 * `chunk` bytes, and (when `rewriteHead`) a first record of garbage over the header that a later record
 * overwrites, as makedumpfile rewrites its header at the end.
 */
export function flattenFile(input: string, output: string, chunk = 65536, rewriteHead = true): void {
  const inFd = openSync(input, "r");
  const size = fstatSync(inFd).size;
  const fd = openSync(output, "w", 0o600);
  let pos = 0;
  const put = (b: Uint8Array) => {
    writeSync(fd, b, 0, b.length, pos);
    pos += b.length;
  };
  const header = new Uint8Array(4096);
  header.set(new TextEncoder().encode("makedumpfile"), 0); // signature (16)
  new DataView(header.buffer).setBigInt64(16, 1n); // type, big-endian (8)
  new DataView(header.buffer).setBigInt64(24, 1n); // version, big-endian (8)
  put(header);
  const record = (offset: number, data: Uint8Array) => {
    const rh = new Uint8Array(16);
    new DataView(rh.buffer).setBigInt64(0, BigInt(offset)); // offset (8)
    new DataView(rh.buffer).setBigInt64(8, BigInt(data.length)); // buf_size (8)
    put(rh);
    put(data);
  };
  if (rewriteHead) record(0, new Uint8Array(4096).fill(0xa5));
  const buf = new Uint8Array(chunk);
  for (let off = rewriteHead ? 4096 : 0; off < size; off += chunk) {
    const n = readSync(inFd, buf, 0, Math.min(chunk, size - off), off);
    record(off, buf.subarray(0, n));
  }
  if (rewriteHead) {
    const head = new Uint8Array(4096);
    readSync(inFd, head, 0, Math.min(4096, size), 0);
    record(0, head.subarray(0, Math.min(4096, size)));
  }
  const end = new Uint8Array(16);
  new DataView(end.buffer).setBigInt64(0, -1n); // END_FLAG_FLAT_HEADER (8)
  new DataView(end.buffer).setBigInt64(8, -1n); // (8)
  put(end);
  closeSync(fd);
  closeSync(inFd);
}

function isZero(page: Uint8Array): boolean {
  const words = new Uint32Array(page.buffer, page.byteOffset, page.length >> 2);
  for (let i = 0; i < words.length; i++) if (words[i]) return false;
  return true;
}
