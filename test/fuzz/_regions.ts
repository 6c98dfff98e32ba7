// Where each structure a dump reader parses lies in a dump file, by file offset: the format's own headers, notes,
// bitmaps and page descriptors, and the pages of the kernel's kallsyms, BTF and ORC tables (located through the
// library itself on the clean file). The fuzzer mutates these ranges, intersected with the bytes a clean run read.
import { ElfDump } from "../../lib/dump/elf.ts";
import { FlatSource } from "../../lib/dump/flattened.ts";
import { KdumpDump } from "../../lib/dump/kdump_compressed.ts";
import { openDump } from "../../lib/dump/open.ts";
import { FileSource, le } from "../../lib/dump/source.ts";
import { openKernel } from "../../lib/kernel/open.ts";
import { KernelProgram } from "../../lib/kernel/program.ts";
import { kallsymsAddrs } from "../../lib/kernel/system_map.ts";

/** The structures the fuzz report counts. */
export const STRUCTURES = ["headers", "notes", "bitmaps", "page_desc", "kallsyms", "BTF", "ORC"] as const;
export type Structure = (typeof STRUCTURES)[number];

/** [start, end) file offsets. */
export type Range = [number, number];

/** Each structure's file ranges (empty when the format has none). */
export type Regions = Record<Structure, Range[]>;

/** Physical ranges of the kallsyms, BTF and ORC tables (the kernel image is physically contiguous), from a clean dump. */
export function kernelTables(path: string): { structure: Structure; start: bigint; end: bigint }[] {
  const dump = openDump(path);
  try {
    const k = openKernel(dump);
    const prog = new KernelProgram(k);
    // where kdump itself finds the tables (VMCOREINFO on 6.0+, a scan of the image before)
    const found = kallsymsAddrs(k).candidates[0]!;
    const ks = Object.values(found).filter((a): a is bigint => typeof a === "bigint" && a > 0n);
    const min = ks.reduce((a, b) => (b < a ? b : a));
    const max = ks.reduce((a, b) => (b > a ? b : a));
    const s = (n: string) => prog.symbols.lookup(n);
    const out: { structure: Structure; start: bigint; end: bigint }[] = [{ structure: "kallsyms", start: min, end: max + 512n }];
    const pair = (structure: Structure, a: string, b: string) => {
      const x = s(a);
      const y = s(b);
      if (x !== undefined && y !== undefined && y > x) out.push({ structure, start: x, end: y });
    };
    pair("BTF", "__start_BTF", "__stop_BTF");
    pair("ORC", "__start_orc_unwind_ip", "__stop_orc_unwind_ip");
    pair("ORC", "__start_orc_unwind", "__stop_orc_unwind");
    pair("ORC", "orc_lookup", "orc_lookup_end");
    // to physical: the kernel image is physically contiguous
    return out.map((r) => {
      const p = k.translate(r.start);
      return { structure: r.structure, start: p, end: p + (r.end - r.start) };
    });
  } finally {
    dump.close();
  }
}

/** The flattened records of `path`: view offset, size and file offset of the data, in file order. */
function flatRecords(path: string): { off: number; size: number; at: number }[] {
  const f = new FileSource(path);
  try {
    const out: { off: number; size: number; at: number }[] = [];
    for (let pos = 4096; pos + 16 <= f.size; ) {
      const v = new DataView(f.read(pos, 16).slice().buffer);
      const off = v.getBigInt64(0);
      if (off < 0n) break;
      const size = Number(v.getBigInt64(8));
      out.push({ off: Number(off), size, at: pos + 16 });
      pos += 16 + size;
    }
    return out;
  } finally {
    f.close();
  }
}

/** Physical [start, end) ranges → file ranges of an ELF dump (the PT_LOAD starting first wins, as ElfDump reads). */
export function elfPhysToFile(dump: ElfDump, start: bigint, end: bigint): Range[] {
  const segs = [...dump.segments].sort((a, b) => a.paddr - b.paddr);
  const out: Range[] = [];
  for (let p = Number(start); p < Number(end); ) {
    const seg = segs.find((s) => p >= s.paddr && p < s.paddr + s.filesz);
    if (!seg) break;
    const take = Math.min(Number(end) - p, seg.paddr + seg.filesz - p);
    out.push([seg.offset + (p - seg.paddr), seg.offset + (p - seg.paddr) + take]);
    p += take;
  }
  return out;
}

/** Physical ranges → the compressed page data of a kdump-compressed view (page_desc offset and size per page). */
function kdumpPhysToFile(read: (o: number, n: number) => Uint8Array, h: KdumpDump["header"], start: bigint, end: bigint): Range[] {
  const bs = h.blockSize;
  const bitmap2 = (1 + h.subHdrSize) * bs + (h.bitmapBlocks * bs) / 2;
  const descs = (1 + h.subHdrSize + h.bitmapBlocks) * bs;
  const bits = read(bitmap2, Math.ceil(h.maxMapnr / 8));
  const out: Range[] = [];
  let rank = 0;
  const first = Number(start / BigInt(bs));
  const last = Number((end - 1n) / BigInt(bs));
  for (let pfn = 0; pfn <= last && pfn < h.maxMapnr; pfn++) {
    if (!((bits[pfn >> 3]! >> (pfn & 7)) & 1)) continue;
    if (pfn >= first) {
      const d = le(read(descs + rank * 24, 24));
      const page = BigInt(pfn) * BigInt(bs);
      if (d.u32(8) === bs && d.u32(12) === 0) {
        // a page stored raw: the bytes themselves
        const s = Number((start > page ? start : page) - page);
        const e = Number((end < page + BigInt(bs) ? end : page + BigInt(bs)) - page);
        out.push([d.num(0) + s, d.num(0) + e]);
      } else out.push([d.num(0), d.num(0) + d.u32(8)]);
    }
    rank++;
  }
  return out;
}

/** Maps physical memory of the dump file at `path` to the file's own byte ranges. */
export interface PhysMapper {
  /** The file ranges holding physical [start, end) (for a compressed page: all of its compressed bytes). */
  toFile(start: bigint, end: bigint): Range[];
  close(): void;
}

/** A PhysMapper for an ELF, kdump-compressed or flattened dump. */
export function physMapper(path: string): PhysMapper {
  const dump = openDump(path);
  const isFlat = dump.format === "flat";
  const records = isFlat ? flatRecords(path) : [];
  // view offset → file ranges (flattened: through the records, the last record writing a byte wins)
  const viewToFile = (r: Range): Range[] => {
    if (!isFlat) return [r];
    const out: Range[] = [];
    for (const rec of records) {
      const s = Math.max(r[0], rec.off);
      const e = Math.min(r[1], rec.off + rec.size);
      if (e > s) out.push([rec.at + (s - rec.off), rec.at + (e - rec.off)]);
    }
    return out;
  };
  const view = isFlat ? new FlatSource(new FileSource(path), path) : new FileSource(path);
  const read = (o: number, n: number) => view.read(o, n);
  // kdump-compressed: the page_desc index of each dumped page frame, counted once
  let rankOf: Int32Array | undefined;
  const kdumpToFile = (h: KdumpDump["header"], start: bigint, end: bigint): Range[] => {
    const bs = h.blockSize;
    if (!rankOf) {
      const bits = read((1 + h.subHdrSize) * bs + (h.bitmapBlocks * bs) / 2, Math.ceil(h.maxMapnr / 8));
      rankOf = new Int32Array(h.maxMapnr).fill(-1);
      for (let pfn = 0, rank = 0; pfn < h.maxMapnr; pfn++) if ((bits[pfn >> 3]! >> (pfn & 7)) & 1) rankOf[pfn] = rank++;
    }
    const descs = (1 + h.subHdrSize + h.bitmapBlocks) * bs;
    const out: Range[] = [];
    for (let pfn = Number(start / BigInt(bs)); pfn <= Number((end - 1n) / BigInt(bs)) && pfn < h.maxMapnr; pfn++) {
      const rank = rankOf[pfn]!;
      if (rank < 0) continue;
      const d = le(read(descs + rank * 24, 24));
      const page = BigInt(pfn) * BigInt(bs);
      if (d.u32(8) === bs && d.u32(12) === 0) {
        // a page stored raw: the bytes themselves
        const s = Number((start > page ? start : page) - page);
        const e = Number((end < page + BigInt(bs) ? end : page + BigInt(bs)) - page);
        out.push([d.num(0) + s, d.num(0) + e]);
      } else out.push([d.num(0), d.num(0) + d.u32(8)]);
    }
    return out;
  };
  return {
    toFile(start, end) {
      if (dump instanceof ElfDump) return elfPhysToFile(dump, start, end).flatMap(viewToFile);
      if (dump instanceof KdumpDump) return kdumpToFile(dump.header, start, end).flatMap(viewToFile);
      return [];
    },
    close() {
      view.close();
      dump.close();
    },
  };
}

/**
 * The structure ranges of the dump file at `path`. `clean` is a dump with the same kernel the tables are located
 * in (the original ELF; locating them in a sparse copy works too, since a clean run reads them).
 */
export function dumpRegions(path: string, clean = path, log: (s: string) => void = () => {}): Regions {
  let tables: ReturnType<typeof kernelTables> = [];
  try {
    tables = kernelTables(clean);
  } catch (e) {
    // a kernel kdump cannot read yet (a new line): its file structures are still fuzzed, its kernel tables not
    log(`fuzz: ${path}: no kallsyms, BTF or ORC ranges (${(e as Error).message.split("\n")[0]})`);
  }
  const regions: Regions = { headers: [], notes: [], bitmaps: [], page_desc: [], kallsyms: [], BTF: [], ORC: [] };
  const dump = openDump(path);
  try {
    const isFlat = dump.format === "flat";
    const records = isFlat ? flatRecords(path) : [];
    // view offset → file ranges (flattened: through the records, the last record writing a byte wins)
    const toFile = (r: Range): Range[] => {
      if (!isFlat) return [r];
      const out: Range[] = [];
      for (const rec of records) {
        const s = Math.max(r[0], rec.off);
        const e = Math.min(r[1], rec.off + rec.size);
        if (e > s) out.push([rec.at + (s - rec.off), rec.at + (e - rec.off)]);
      }
      return out;
    };
    const add = (s: Structure, r: Range) => regions[s].push(...toFile(r));
    if (isFlat) {
      regions.headers.push([0, 4096]);
      for (const rec of records) regions.headers.push([rec.at - 16, rec.at]);
    }
    const view = isFlat ? new FlatSource(new FileSource(path), path) : new FileSource(path);
    const read = (o: number, n: number) => view.read(o, n);
    try {
      if (dump instanceof ElfDump) {
        const eh = le(read(0, 64));
        const phoff = eh.num(32);
        const phnum = eh.u16(56);
        add("headers", [0, 64]);
        add("headers", [phoff, phoff + phnum * 56]);
        const ph = le(read(phoff, phnum * 56));
        for (let i = 0; i < phnum; i++) if (ph.u32(i * 56) === 4) add("notes", [ph.num(i * 56 + 8), ph.num(i * 56 + 8) + ph.num(i * 56 + 32)]);
        for (const t of tables) for (const r of elfPhysToFile(dump, t.start, t.end)) add(t.structure, r);
      } else if (dump instanceof KdumpDump) {
        const h = dump.header;
        const bs = h.blockSize;
        const sub = le(read(bs, 104));
        add("headers", [0, 464]);
        add("headers", [bs, bs + 104]);
        if (sub.num(40) > 0) add("notes", [sub.num(32), sub.num(32) + sub.num(40)]);
        if (sub.num(56) > 0) add("notes", [sub.num(48), sub.num(48) + sub.num(56)]);
        add("bitmaps", [(1 + h.subHdrSize) * bs, (1 + h.subHdrSize + h.bitmapBlocks) * bs]);
        const descs = (1 + h.subHdrSize + h.bitmapBlocks) * bs;
        const bits = read((1 + h.subHdrSize) * bs + (h.bitmapBlocks * bs) / 2, Math.ceil(h.maxMapnr / 8));
        let n = 0;
        for (const b of bits) for (let v = b; v; v >>= 1) n += v & 1;
        add("page_desc", [descs, descs + n * 24]);
        for (const t of tables) for (const r of kdumpPhysToFile(read, h, t.start, t.end)) add(t.structure, r);
      }
    } finally {
      view.close();
    }
    return regions;
  } finally {
    dump.close();
  }
}
