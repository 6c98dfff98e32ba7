// Which page frames a filtered dump keeps, by makedumpfile's dump level (-d): bit 1 zero pages, 2 non-private
// cache, 4 all cache, 8 user data (anonymous, hugetlb), 16 free (buddy); hwpoison and offline pages always go.
// Decided from each frame's struct page in mem_map (lib/kernel/memmap.ts), as makedumpfile does, for 4.x–6.12+.
import { UsageError } from "../errors.ts";
import { memMapSections, pageLayout, type PageLayout } from "../kernel/memmap.ts";
import type { KernelView } from "../kernel/view.ts";
import type { MappedRun } from "../arch/arch.ts";
import type { Dump } from "../dump/dump.ts";
import type { PageReader } from "../dump/page_reader.ts";
import { clearRange } from "../dump/bitmap.ts";
import { GarbageCollector } from "./garbage.ts";

/** Dump level bits (makedumpfile's DL_EXCLUDE_*). */
export const DL = { ZERO: 1, CACHE: 2, CACHE_PRIVATE: 4, USER: 8, FREE: 16 } as const;

/** Page frames excluded, by reason: the categories of makedumpfile --message-level 31. */
export interface ExcludedCounts {
  /** Filled with zeros (level bit 1; found while the pages are copied). */
  zero: number;
  /** Page cache without private data (bit 2 or 4). */
  cache: number;
  /** Page cache with private data, e.g. buffer heads (bit 4). */
  cachePrivate: number;
  /** Anonymous and hugetlb pages of processes (bit 8). */
  user: number;
  /** Free pages in the buddy allocator (bit 16). */
  free: number;
  /** Pages with a hardware memory error (always). */
  hwpoison: number;
  /** Logically offline pages, e.g. ballooned (always). */
  offline: number;
}

/** Page frames [start, end). */
export type PfnRun = [start: number, end: number];

/**
 * The result of filtering: the kept frames as a bitmap over page frames 0 … maxMapnr-1 (bit n%8 of byte n/8, as on
 * disk), the only memory of the collector that grows with RAM (maxMapnr/8 bytes: 2 MiB at 64 GiB).
 */
export interface PageFilter {
  /** The -d level applied. */
  level: number;
  /** Page size (4096). */
  pageSize: number;
  /** Frames the bitmaps describe: one past the highest frame of the dump. */
  maxMapnr: number;
  /**
   * Frames the dump holds, as sorted, disjoint [start, end) runs of frames: the first bitmap of the kdump format,
   * written from them (a run per RAM range, so it costs nothing per frame).
   */
  present: PfnRun[];
  /** Frames kept (the second bitmap); zero pages are cleared from it only when the writer finds them. */
  dumpable: Uint8Array;
  /** Frames in the dump. */
  presentPages: number;
  /** Frames excluded so far, by reason. */
  excluded: ExcludedCounts;
  /** Why mem_map was not used (level has no mem_map bits, or the dump lacks what it needs), or null. */
  memMapSkipped: string | null;
}

/**
 * Decides which pages of `dump` a level-`level` dump keeps. Needs the kernel view for the mem_map bits
 * (2, 4, 8, 16) and for hwpoison/offline pages; when the dump lacks what mem_map needs, it keeps those pages
 * and says why in `memMapSkipped` (a capture must still save something).
 * @example const f = filterPages(dump, 31, openKernel(dump)); f.excluded.free
 */
export function filterPages(dump: Dump, level: number, kernel: KernelView | null, reader: PageReader | null = null): PageFilter {
  if (!Number.isInteger(level) || level < 0 || level > 31) throw new UsageError(`dump level ${level} is not 0–31`, { hint: "add the bits: 1 zero, 2 cache, 4 private cache, 8 user, 16 free; 31 drops all" });
  const ps = dump.pageSize;
  const ranges = dump.ranges;
  const maxMapnr = ranges.length ? Number(ranges[ranges.length - 1]!.end / BigInt(ps)) : 0;
  let presentPages = 0;
  const present: PfnRun[] = [];
  for (const r of [...ranges].sort((a, b) => (a.start < b.start ? -1 : 1))) {
    const [start, end] = [Number(r.start / BigInt(ps)), Number(r.end / BigInt(ps))];
    presentPages += end - start;
    const last = present[present.length - 1];
    if (last && start <= last[1]) last[1] = Math.max(last[1], end);
    else if (end > start) present.push([start, end]);
  }
  const f: PageFilter = {
    level,
    pageSize: ps,
    maxMapnr,
    present,
    dumpable: runsBitmap(present, maxMapnr),
    presentPages,
    excluded: { zero: 0, cache: 0, cachePrivate: 0, user: 0, free: 0, hwpoison: 0, offline: 0 },
    memMapSkipped: null,
  };
  if (!kernel) f.memMapSkipped = "the dump has no VMCOREINFO";
  else {
    try {
      excludeByMemMap(f, kernel, pageLayout(kernel.info), reader);
    } catch (e) {
      f.dumpable = runsBitmap(present, maxMapnr);
      f.excluded = { zero: 0, cache: 0, cachePrivate: 0, user: 0, free: 0, hwpoison: 0, offline: 0 };
      f.memMapSkipped = e instanceof Error ? e.message : String(e);
    }
  }
  return f;
}

type Reason = Exclude<keyof ExcludedCounts, "zero">;

/** Walks mem_map section by section, as makedumpfile's __exclude_unnecessary_pages does. */
function excludeByMemMap(f: PageFilter, k: KernelView, L: PageLayout, reader: PageReader | null): void {
  const CHUNK = 8192; // struct pages read at once (512 KiB)
  const ps = f.pageSize;
  const problem = wordLayoutProblem(L);
  if (problem) throw new Error(problem);
  const gc = new GarbageCollector();
  // one buffer for every chunk, read as bytes and as 32-bit words
  const bytes = new Uint8Array(Math.ceil(((CHUNK + 1) * L.size) / ps) * ps + ps);
  const words = new Uint32Array(bytes.buffer);
  const loaded = reader && new LazyStructPages(k, reader, bytes);
  for (const sec of memMapSections(k, f.maxMapnr)) {
    for (let base = sec.startPfn; base < sec.endPfn; base += CHUNK) {
      const n = Math.min(CHUNK, sec.endPfn - base);
      let run = firstRunEnding(f.present, base);
      if (run >= f.present.length || f.present[run]![0] >= base + n) continue;
      // one struct page more, when the section has it, so a head at the chunk's end can see page[1]
      const extra = base + n < sec.endPfn ? 1 : 0;
      // the walk's garbage (translations, verdicts) grows with RAM: collected every chunk (32 MiB of RAM)
      gc.step();
      const vaddr = sec.vaddr + BigInt((base - sec.startPfn) * L.size);
      const lazy = loaded && vaddr % BigInt(ps) === 0n ? loaded : null;
      // with a PageReader, only the pages of mem_map that hold a struct page the walk decides are read: the heads
      // of free blocks and of compound pages, and every page in use (a free 4 MiB block reads 1 of its 16)
      if (lazy) lazy.start(vaddr, (n + extra) * L.size);
      else bytes.set(k.read(vaddr, (n + extra) * L.size));
      walkChunk(f, L, words, bytes, lazy, base, n, extra, run);
    }
  }
}

/**
 * Decides the struct pages of frames [base, base + n) in `bytes` (`words`: the same buffer as 32-bit words), from
 * the present run `run` on, and clears the excluded frames from f.dumpable. A function of its own, called once a
 * chunk, so the engine compiles it by its calls and not only by entering the loop of a function called once.
 */
function walkChunk(f: PageFilter, L: PageLayout, words: Uint32Array, bytes: Uint8Array, lazy: LazyStructPages | null, base: number, n: number, extra: number, run: number): void {
  // excluded frames are cleared as runs: consecutive ones of one reason (a process's pages, mostly) are one
  // clearRange, not one a frame
  let runStart = -1;
  let runEnd = -1;
  let runReason = 0;
  const size = L.size;
  const level = f.level;
  // the present run the walk is in (or next to): [presentStart, presentEnd)
  let presentStart = f.present[run]![0];
  let presentEnd = f.present[run]![1];
  for (let i = 0; i < n; i++) {
    const pfn = base + i;
    if (pfn >= presentEnd) {
      while (run < f.present.length && f.present[run]![1] <= pfn) run++;
      if (run >= f.present.length) break;
      presentStart = f.present[run]![0];
      presentEnd = f.present[run]![1];
    }
    if (pfn < presentStart) continue;
    const at = i * size;
    const next = i + 1 < n + extra ? at + size : -1;
    const span = next >= 0 ? 2 * size : size; // the struct page, and page[1] when there is one
    if (lazy && !lazy.has(at, span)) lazy.need(at, span);
    const code = classifyCode(words, bytes, at, next, pfn, L, level);
    if (!code) continue;
    const pages = Math.floor(code / 8);
    const reason = code & 7;
    if (pfn === runEnd && reason === runReason) runEnd = pfn + pages;
    else {
      if (runStart >= 0) f.excluded[REASONS[runReason]!] += clearRange(f.dumpable, runStart, Math.min(runEnd, f.maxMapnr));
      runStart = pfn;
      runEnd = pfn + pages;
      runReason = reason;
    }
    i += pages - 1; // the rest of a free block or compound page is decided by its head
  }
  if (runStart >= 0) f.excluded[REASONS[runReason]!] += clearRange(f.dumpable, runStart, Math.min(runEnd, f.maxMapnr));
}

/**
 * A chunk of mem_map at a page-aligned `vaddr` in `buf`, each page of it translated and read the first time a
 * struct page on it is needed. mem_map is 1/64 of RAM (1 GiB at 64 GiB); most of it describes free pages that the
 * walk skips by their block's head, so most of it is never read.
 */
class LazyStructPages {
  private vaddr = 0n;
  private length = 0;
  /** Frame of the chunk's first page, and how many of its pages follow it in physical memory (see start()). */
  private firstPfn = -1;
  private runPages = 0;
  /** Per page of the chunk: read yet. */
  private readonly done: Uint8Array;
  private readonly ps: number;

  constructor(
    private readonly k: KernelView,
    private readonly reader: PageReader,
    private readonly buf: Uint8Array,
  ) {
    this.ps = k.info.pageSize;
    this.done = new Uint8Array(Math.ceil(buf.length / this.ps));
  }

  /**
   * Starts a chunk of `length` bytes at `vaddr` (into the buffer); nothing is read yet. Where the page tables map
   * the chunk's start by a large page (vmemmap's 2 MiB pages), the pages it covers follow the first in physical
   * memory and are not translated one by one: a BigInt translation per page was a sixth of a cold walk under TCG.
   */
  start(vaddr: bigint, length: number): void {
    this.vaddr = vaddr;
    this.length = length;
    this.done.fill(0);
    let run: MappedRun | null | undefined = null;
    try {
      run = this.k.mappedRun?.(vaddr);
    } catch {
      // not mapped here: need() translates page by page and fails only for a page the walk needs, as before
    }
    this.firstPfn = run ? Number(run.paddr / BigInt(this.ps)) : -1;
    this.runPages = run ? Math.floor(run.bytes / this.ps) : 0;
  }

  /** True when bytes [at, at + length) (at most two pages) are readable already: the walk's test before need(). */
  has(at: number, length: number): boolean {
    const ps = this.ps;
    return this.done[(at / ps) | 0] === 1 && this.done[((Math.min(at + length, this.length) - 1) / ps) | 0] === 1;
  }

  /** Makes bytes [at, at + length) of the chunk readable in the view. */
  need(at: number, length: number): void {
    const last = Math.floor((Math.min(at + length, this.length) - 1) / this.ps);
    for (let p = Math.floor(at / this.ps); p <= last; p++) {
      if (this.done[p]) continue;
      const pfn = p < this.runPages ? this.firstPfn + p : Number(this.k.translate(this.vaddr + BigInt(p * this.ps)) / BigInt(this.ps));
      this.reader.read(pfn, 1, this.buf, p * this.ps);
      this.done[p] = 1;
    }
  }
}

/**
 * Decides one struct page at `at` in `v` (page[1] at `next`, or -1): why it goes and how many frames go with
 * it, or null to keep it. The order of the tests is makedumpfile's, so counts agree category by category.
 */
export function classify(v: DataView, at: number, next: number, pfn: number, L: PageLayout, level: number): { reason: Reason; pages: number } | null {
  const problem = wordLayoutProblem(L);
  if (problem) throw new Error(problem);
  const b = new Uint8Array(Math.ceil(v.byteLength / 4) * 4);
  b.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  const code = classifyCode(new Uint32Array(b.buffer), b, at, next, pfn, L, level);
  return code ? { reason: REASONS[code & 7]!, pages: Math.floor(code / 8) } : null;
}

/** The reasons by their index in classifyCode()'s low 3 bits (0 is not one: it keeps the page). */
const REASONS: Reason[] = ["free", "free", "cache", "cachePrivate", "user", "hwpoison", "offline"];
const [FREE, CACHE, CACHE_PRIVATE, USER, HWPOISON, OFFLINE] = [1, 2, 3, 4, 5, 6];

/** Flag bit `n` (-1: the kernel has no such flag) of the flags words lo, hi. */
function flagBit(lo: number, hi: number, n: number): boolean {
  return n >= 0 && ((n < 32 ? lo >>> n : hi >>> (n - 32)) & 1) === 1;
}

/** Whether this machine reads a Uint32Array in little-endian order, as the dumps it filters are written. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Why classifyCode() cannot read this layout's fields as 32-bit words (a field or SIZE(page) not a multiple of 4,
 * or a big-endian machine), or null when it can: every kernel's struct page can.
 */
export function wordLayoutProblem(L: PageLayout): string | null {
  if (!LITTLE_ENDIAN) return "this machine is big-endian";
  const fields: [string, number][] = [["size", L.size], ["flags", L.flags], ["mapping", L.mapping], ["_mapcount", L.mapcount], ["private", L.private], ["compound_head", L.compoundHead]];
  for (const [name, at] of fields) if (at % 4) return `struct page's ${name} (${at}) is not a multiple of 4 bytes`;
  return null;
}

/**
 * classify() as one number, so the walk makes no object (nor closure) per struct page: 0 keeps the page, else
 * pages * 8 + the reason's index in REASONS. Reads the struct page at byte `at` (page[1] at `next`, or -1) as 32-bit
 * words of `w` and bytes of `b`, two views of one buffer: under TCG a typed array's element is a load in every tier
 * of the engine, where a DataView's getUint32 was a call until the optimizing tier (the walk of a 1 GiB dump under
 * qemu-x86_64 spent most of its cold second in those calls). The layout passed wordLayoutProblem().
 */
function classifyCode(w: Uint32Array, b: Uint8Array, at: number, next: number, pfn: number, L: PageLayout, level: number): number {
  const lo = w[(at + L.flags) >>> 2]!;
  const hi = w[(at + L.flags + 4) >>> 2]!;
  const mapcount = w[(at + L.mapcount) >>> 2]! | 0;
  const anonMapping = (w[(at + L.mapping) >>> 2]! & 1) === 1;
  const tail = (w[(at + L.compoundHead) >>> 2]! & 1) === 1;
  const slab = flagBit(lo, hi, L.pgSlab) || (L.slabType !== null && mapcount === L.slabType);

  let order = 0;
  let hugetlb = false;
  if ((lo & L.headMaskLo || hi & L.headMaskHi) && next >= 0) {
    const flags1 = w[(next + L.flags) >>> 2]!;
    order = L.order.kind === "byte" ? b[next + L.order.offset]! : flags1 & 0xff;
    const h = L.hugetlb;
    if (h.kind === "type") hugetlb = mapcount === h.value;
    else if (h.kind === "flag") hugetlb = ((h.bit < 32 ? flags1 >>> h.bit : w[(next + L.flags + 4) >>> 2]! >>> (h.bit - 32)) & 1) === 1;
    else if (h.kind === "dtor") hugetlb = b[next + h.offset] === h.value;
    if (order >= 64 || pfn % 2 ** order !== 0) order = 0;
  }
  const pages = 2 ** order;

  // tail pages of a compound page go (or stay) with their head
  if (tail) return 0;
  if (level & DL.FREE && L.buddyType !== null && !slab && mapcount === L.buddyType) {
    const privLo = w[(at + L.private) >>> 2]!;
    const privHi = w[(at + L.private + 4) >>> 2]!;
    if (privHi !== 0 || privLo >= L.maxOrder) return 0; // not a buddy order: keep, as makedumpfile warns and keeps
    return 2 ** privLo * 8 + FREE;
  }
  const anon = anonMapping && !slab;
  const cachePage = flagBit(lo, hi, L.pgLru) || ((L.pgSwapbacked < 0 || flagBit(lo, hi, L.pgSwapbacked)) && flagBit(lo, hi, L.pgSwapcache));
  if (level & DL.CACHE && cachePage && !flagBit(lo, hi, L.pgPrivate) && !anon) return pages * 8 + CACHE;
  if (level & DL.CACHE_PRIVATE && cachePage && !anon) return pages * 8 + (flagBit(lo, hi, L.pgPrivate) ? CACHE_PRIVATE : CACHE);
  if (level & DL.USER && (anon || hugetlb)) return pages * 8 + USER;
  if (flagBit(lo, hi, L.pgHwpoison)) return pages * 8 + HWPOISON;
  if (L.offlineType !== null && !slab && mapcount === L.offlineType) return pages * 8 + OFFLINE;
  return 0;
}

/** A bitmap of maxMapnr frames with the frames of `runs` set. */
function runsBitmap(runs: PfnRun[], maxMapnr: number): Uint8Array {
  const b = new Uint8Array(Math.ceil(maxMapnr / 8));
  for (const [start, end] of runs) {
    let pfn = start;
    for (; pfn < end && pfn & 7; pfn++) b[pfn >>> 3]! |= 1 << (pfn & 7);
    const whole = (end - pfn) >>> 3;
    b.fill(0xff, pfn >>> 3, (pfn >>> 3) + whole);
    for (pfn += whole * 8; pfn < end; pfn++) b[pfn >>> 3]! |= 1 << (pfn & 7);
  }
  return b;
}

/** Index of the first of the sorted `runs` that ends after `pfn` (runs.length when none does). */
export function firstRunEnding(runs: PfnRun[], pfn: number): number {
  let lo = 0;
  let hi = runs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (runs[mid]![1] <= pfn) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
