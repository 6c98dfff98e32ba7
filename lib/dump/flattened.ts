// makedumpfile's flattened format (-F), what ssh targets and pipes receive: a 4 KiB big-endian header
// ("makedumpfile", type 1, version 1), then {i64 offset; i64 size; data} records, ended by offset -1. We index
// the records once (headers only) and serve the reassembled file as a ByteSource, as makedumpfile -R would write it.
import { DumpFormatError } from "../errors.ts";
import type { ByteSource } from "./source.ts";

/** The header signature. */
export const FLAT_SIGNATURE = "makedumpfile";
const FLAT_HEADER_SIZE = 4096;
const RECORD_HEADER = 16;

/** True when `head` starts with the flattened-format signature. */
export function isFlattened(head: Uint8Array): boolean {
  return head.length >= 16 && new TextDecoder().decode(head.subarray(0, 16)).replace(/\0+$/, "") === FLAT_SIGNATURE;
}

/**
 * The reassembled view of a flattened file: byte `x` of the view is the data of the last record that wrote `x`
 * (makedumpfile rewrites its header at the end), and bytes no record wrote read as zeros (holes of the file -R makes).
 */
export class FlatSource implements ByteSource {
  readonly size: number;
  /** Disjoint pieces sorted by view offset: start, end and the flattened-file offset of `start`'s byte. */
  private readonly starts: Float64Array;
  private readonly ends: Float64Array;
  private readonly at: Float64Array;

  constructor(
    private readonly file: ByteSource,
    readonly path: string,
  ) {
    const bad = (msg: string, offset: number) => new DumpFormatError(`${path}: ${msg}`, { offset, hint: "the flattened dump is truncated or corrupted" });
    if (file.size < FLAT_HEADER_SIZE) throw bad(`flattened header truncated (${file.size} bytes)`, 0);
    const hv = view(file.read(0, 32));
    const type = hv.getBigInt64(16);
    const version = hv.getBigInt64(24);
    if (type !== 1n || version !== 1n) throw bad(`flattened header type ${type} version ${version}, expected 1 and 1`, 16);
    const logical: number[] = [];
    const sizes: number[] = [];
    const data: number[] = [];
    let pos = FLAT_HEADER_SIZE;
    for (;;) {
      if (pos + RECORD_HEADER > file.size) throw bad("records end without the end marker", pos);
      const rv = view(file.read(pos, RECORD_HEADER));
      const off = rv.getBigInt64(0);
      const size = rv.getBigInt64(8);
      if (off === -1n) break;
      if (off < 0n || size < 0n || off + size > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(`record with offset ${off} and size ${size}`, pos);
      const n = Number(size);
      if (pos + RECORD_HEADER + n > file.size) throw bad(`record of ${n} bytes runs past the end of the file`, pos);
      logical.push(Number(off));
      sizes.push(n);
      data.push(pos + RECORD_HEADER);
      pos += RECORD_HEADER + n;
    }
    const pieces = latestWins(logical, sizes);
    this.starts = new Float64Array(pieces.length);
    this.ends = new Float64Array(pieces.length);
    this.at = new Float64Array(pieces.length);
    let size = 0;
    pieces.forEach((p, i) => {
      this.starts[i] = p.start;
      this.ends[i] = p.end;
      this.at[i] = data[p.record]! + (p.start - logical[p.record]!);
      size = Math.max(size, p.end);
    });
    this.size = size;
  }

  read(offset: number, length: number): Uint8Array {
    if (offset < 0 || length < 0 || offset + length > this.size)
      throw new DumpFormatError(`${this.path}: read of ${length} bytes past the end of the reassembled dump (${this.size} bytes)`, {
        offset,
        hint: "the flattened dump is truncated; was it copied completely?",
      });
    let i = this.pieceAtOrAfter(offset);
    if (i < this.starts.length && this.starts[i]! <= offset && offset + length <= this.ends[i]!)
      return this.file.read(this.at[i]! + (offset - this.starts[i]!), length);
    const out = new Uint8Array(length);
    for (let pos = offset; pos < offset + length && i < this.starts.length; i++) {
      const s = Math.max(pos, this.starts[i]!);
      const e = Math.min(offset + length, this.ends[i]!);
      if (s >= offset + length) break;
      if (e > s) out.set(this.file.read(this.at[i]! + (s - this.starts[i]!), e - s), s - offset);
      pos = e;
    }
    return out;
  }

  /** Index of the first piece whose end is past `offset`. */
  private pieceAtOrAfter(offset: number): number {
    let lo = 0;
    let hi = this.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ends[mid]! <= offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  close(): void {
    this.file.close();
  }
}

/**
 * Resolves overlapping writes: a sweep over record boundaries keeping a max-heap of the records covering the
 * current point, so each byte goes to the last record (in file order) that wrote it. O(n log n).
 */
function latestWins(start: number[], size: number[]): { start: number; end: number; record: number }[] {
  const n = start.length;
  const events: number[] = []; // record index r: start event 2r, end event 2r+1
  for (let r = 0; r < n; r++) if (size[r]! > 0) events.push(2 * r, 2 * r + 1);
  const coord = (e: number) => (e & 1 ? start[e >> 1]! + size[e >> 1]! : start[e >> 1]!);
  events.sort((a, b) => coord(a) - coord(b));
  const heap: number[] = [];
  const ended = new Uint8Array(n);
  const out: { start: number; end: number; record: number }[] = [];
  for (let k = 0; k < events.length; ) {
    const x = coord(events[k]!);
    for (; k < events.length && coord(events[k]!) === x; k++) {
      const e = events[k]!;
      if (e & 1) ended[e >> 1] = 1;
      else heapPush(heap, e >> 1);
    }
    while (heap.length && ended[heap[0]!]) heapPop(heap);
    if (!heap.length || k === events.length) continue;
    const next = coord(events[k]!);
    const top = heap[0]!;
    const last = out[out.length - 1];
    if (last && last.record === top && last.end === x) last.end = next;
    else out.push({ start: x, end: next, record: top });
  }
  return out;
}

function heapPush(h: number[], v: number): void {
  h.push(v);
  for (let i = h.length - 1; i > 0; ) {
    const p = (i - 1) >> 1;
    if (h[p]! >= h[i]!) break;
    [h[p], h[i]] = [h[i]!, h[p]!];
    i = p;
  }
}

function heapPop(h: number[]): void {
  const last = h.pop()!;
  if (!h.length) return;
  h[0] = last;
  for (let i = 0; ; ) {
    const l = 2 * i + 1;
    const r = l + 1;
    let m = i;
    if (l < h.length && h[l]! > h[m]!) m = l;
    if (r < h.length && h[r]! > h[m]!) m = r;
    if (m === i) break;
    [h[m], h[i]] = [h[i]!, h[m]!];
    i = m;
  }
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}
