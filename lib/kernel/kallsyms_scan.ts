// The fallback for kernels whose VMCOREINFO does not locate kallsyms (before 6.0) when no System.map is at hand:
// find the tables in the kernel image by their shape. The token table keeps every character used in names as a
// one-character token at its own byte, so "0\0" … "9\0" appear in a row; the token index follows the table;
// kallsyms_names (after kallsyms_num_syms) ends where kallsyms_markers starts (markers[0] = 0, markers[1] = where
// name 256 starts); kallsyms_offsets and kallsyms_relative_base sit before num_syms (scripts/kallsyms.c up to
// 6.1) or after the token index (later). Every layout found is checked by the caller against SYMBOL(_stext).
import type { KallsymsAddrs } from "./kallsyms.ts";

/** Reads `length` bytes of kernel memory at `vaddr`. */
export type ImageReader = (vaddr: bigint, length: number) => Uint8Array;

/** How far past _stext the token table is looked for, and how far before it kallsyms_names may start (tried in turn). */
const IMAGE_SPAN = 96 << 20;
const NAMES_SPANS = [2 << 20, 6 << 20, 24 << 20];
const CHUNK = 4 << 20;
const DIGITS = Buffer.from("\x000\x001\x002\x003\x004\x005\x006\x007\x008\x009\x00", "latin1");

const align = (a: bigint, n: bigint) => (a + n - 1n) & ~(n - 1n);

/**
 * Candidate kallsyms layouts found in the kernel image after `stext`, most likely first; empty when none is found.
 * @example scanKallsyms((a, n) => prog.readBulk(a, n), info.symbol("_stext"))
 */
export function scanKallsyms(read: ImageReader, stext: bigint): KallsymsAddrs[] {
  for (let base = stext; base < stext + BigInt(IMAGE_SPAN); base += BigInt(CHUNK)) {
    const buf = tryRead(read, base, CHUNK + DIGITS.length);
    if (!buf) break;
    const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    for (let i = b.indexOf(DIGITS); i >= 0; i = b.indexOf(DIGITS, i + 1)) {
      const found = fromDigitZero(read, base + BigInt(i + 1), stext);
      if (found.length) return found;
    }
  }
  return [];
}

/** The layouts around a token table whose "0" token is at `zero`. */
function fromDigitZero(read: ImageReader, zero: bigint, stext: bigint): KallsymsAddrs[] {
  // Tokens 0x30–0xff follow "0"; the token index (256 u16 offsets into the table) follows the last, aligned.
  const fwd = tryRead(read, zero, 8192);
  if (!fwd) return [];
  const rel: number[] = [];
  let end = 0;
  for (let t = 0x30; t < 256; t++) {
    rel.push(end);
    const z = fwd.indexOf(0, end);
    if (z < 0) return [];
    end = z + 1;
  }
  for (const a of [4n, 8n]) {
    const index = align(zero + BigInt(end), a);
    const idx = tryRead(read, index, 512);
    if (!idx) continue;
    const dv = new DataView(idx.buffer, idx.byteOffset, 512);
    const off0 = dv.getUint16(0x30 * 2, true);
    if (dv.getUint16(0, true) !== 0 || off0 > 4096 || !rel.every((r, i) => dv.getUint16((0x30 + i) * 2, true) === off0 + r)) continue;
    const table = zero - BigInt(off0);
    const head = tryRead(read, table, off0);
    // each of tokens 0x00–0x2f ends with a NUL just before the next one starts
    if (!head || ![...Array(0x30).keys()].every((t) => head[dv.getUint16((t + 1) * 2, true) - 1] === 0)) continue;
    return layouts(read, table, index, stext);
  }
  return [];
}

/** The two table orders around a token table and index. */
function layouts(read: ImageReader, table: bigint, index: bigint, stext: bigint): KallsymsAddrs[] {
  let names: ReturnType<typeof findNames>;
  for (const span of NAMES_SPANS) if ((names = findNames(read, table, stext, span))) break;
  if (!names) return [];
  const n = BigInt(names.count);
  const offsetsBytes = align(4n * n, 8n);
  const classic = { offsets: names.numSyms - 8n - offsetsBytes, relative_base: names.numSyms - 8n };
  const after = align(index + 512n, 8n);
  const later = { offsets: after, relative_base: after + offsetsBytes };
  const common = { num_syms: names.numSyms, names: names.at, token_table: table, token_index: index };
  return [
    { ...common, ...classic },
    { ...common, ...later },
  ];
}

/**
 * kallsyms_num_syms and kallsyms_names between _stext and the token table at `table`: an 8-aligned count whose
 * names, walked by their lengths, end where a markers array starts (0, then the offset of name 256, as u32 or u64).
 */
function findNames(read: ImageReader, table: bigint, stext: bigint, span: number): { numSyms: bigint; at: bigint; count: number } | undefined {
  const from = table - BigInt(span) > stext ? table - BigInt(span) : stext;
  const buf = tryRead(read, from, Number(table - from));
  if (!buf) return undefined;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const first = Number((8n - (from & 7n)) & 7n); // offset of the first 8-aligned address in buf
  const last = buf.length - 16;
  for (let o = last - ((((last - first) % 8) + 8) % 8); o >= first; o -= 8) {
    const count = dv.getUint32(o, true);
    if (count < 1000 || count > 4_000_000 || dv.getUint32(o + 4, true) !== 0) continue;
    let p = o + 8;
    let at256 = -1;
    let ok = true;
    for (let i = 0; i < count; i++) {
      if (i === 256) at256 = p - (o + 8);
      if (p >= buf.length) {
        ok = false;
        break;
      }
      let len = buf[p++]!;
      if (len & 0x80) len = (len & 0x7f) | (buf[p++]! << 7);
      if (len === 0) {
        ok = false;
        break;
      }
      p += len;
    }
    if (!ok || p > buf.length - 16) continue;
    // markers start 4- or 8-aligned, as u32 (6.2+ and some earlier) or unsigned long
    for (const [a, size] of [[4, 4], [8, 4], [8, 8]] as const) {
      const mm = p + ((a - ((Number(from & 7n) + p) % a)) % a); // p rounded up so that from + mm is a-aligned
      if (mm + 16 > buf.length || dv.getUint32(mm, true) !== 0) continue;
      const second = size === 4 ? dv.getUint32(mm + 4, true) : Number(dv.getBigUint64(mm + 8, true));
      if (second === at256) return { numSyms: from + BigInt(o), at: from + BigInt(o + 8), count };
    }
  }
  return undefined;
}

/**
 * `length` bytes at `vaddr`; pages the dump lacks read as zeros (a filtered dump drops the image's zero pages and
 * its freed init pages, and the scan must step over them), undefined when it has none of them.
 */
function tryRead(read: ImageReader, vaddr: bigint, length: number): Uint8Array | undefined {
  try {
    return read(vaddr, length);
  } catch {
    const out = new Uint8Array(length);
    let any = false;
    for (let at = 0; at < length; ) {
      const n = Math.min(length - at, 4096 - Number((vaddr + BigInt(at)) & 4095n));
      try {
        out.set(read(vaddr + BigInt(at), n), at);
        any = true;
      } catch {
        // a missing page: zeros
      }
      at += n;
    }
    return any ? out : undefined;
  }
}
