// The kernel's own symbol table (kallsyms) decoded from memory: kallsyms_names (token-compressed, 2-byte lengths
// since 6.1), kallsyms_token_table/_token_index, kallsyms_offsets with kallsyms_relative_base (4.6+). Which address
// encoding the kernel used is decided by the one that reproduces SYMBOL(_stext). Lookups by name and by address.
import type { KernelView } from "./view.ts";
import { BadDataError, MissingDataError } from "../errors.ts";

/** Where the kallsyms tables lie in kernel memory (from VMCOREINFO, or from a System.map plus KASLR). */
export interface KallsymsAddrs {
  /** kallsyms_num_syms: the symbol count (u32, or unsigned long before 6.2). */
  num_syms: bigint;
  /** kallsyms_names: length-prefixed token strings. */
  names: bigint;
  /** kallsyms_token_table: 256 NUL-terminated token strings. */
  token_table: bigint;
  /** kallsyms_token_index: 256 u16 offsets into the token table. */
  token_index: bigint;
  /** kallsyms_offsets: one s32 per symbol. */
  offsets: bigint;
  /** kallsyms_relative_base: the u64 the offsets are relative to; gone with place-relative offsets (7.x). */
  relative_base?: bigint;
}

/** The raw tables, as bytes. */
export interface KallsymsTables {
  /** Number of symbols. */
  count: number;
  /** kallsyms_names from its start (at least up to the last symbol's end). */
  names: Uint8Array;
  /** kallsyms_token_table, long enough for every token. */
  tokenTable: Uint8Array;
  /** kallsyms_token_index: 256 u16 offsets into the token table. */
  tokenIndex: Uint8Array;
  /** kallsyms_offsets: `count` s32. */
  offsets: Uint8Array;
  /** The value of kallsyms_relative_base; undefined on kernels without it (place-relative offsets only). */
  relativeBase?: bigint;
  /** Address of kallsyms_offsets (place-relative offsets count from their own slot). */
  offsetsAddr: bigint;
}

/**
 * How kallsyms_offsets encode addresses: "relative" (relative_base + u32 offset), "absolute-percpu" (x86_64 SMP until
 * 6.15: non-negative offsets are absolute per-CPU addresses, negative ones relative_base - 1 - offset), or
 * "place-relative" (the offset counts from its own slot in kallsyms_offsets).
 */
export type KallsymsEncoding = "relative" | "absolute-percpu" | "place-relative";

/** A symbol and where an address lies in it. */
export interface SymbolHit {
  /** Symbol name. */
  name: string;
  /** Address minus the symbol's address. */
  offset: number;
  /** Distance to the next symbol (the kernel's idea of the size), 0 for the last one. */
  size: number;
  /** The symbol's address. */
  address: bigint;
  /** nm type letter (T, t, D, ...). */
  type: string;
}

/** A symbol table answering by name and by address. Implemented by Kallsyms and by module symbol tables. */
export interface SymbolTable {
  /** Address of symbol `name`, or undefined. */
  lookup(name: string): bigint | undefined;
  /** The symbol containing `addr` (the nearest one at or below it), or undefined. */
  symbolize(addr: bigint): SymbolHit | undefined;
}

/** Per-CPU symbols (absolute, small) sort below kernel ones: their key is value - 2^40. */
const PERCPU_KEY = 2 ** 40;

/** Symbols of one-token names go in bucket first * 257 + 256 of the first-two-tokens index. */
const ONE_TOKEN = 256;

/**
 * The kernel's kallsyms. Names stay token-compressed: one pass over the lengths records where each name starts and
 * its first two token bytes (an index for lookups by name), and a name is expanded only when asked for, so opening
 * a dump costs a few milliseconds.
 */
export class Kallsyms implements SymbolTable {
  /** Number of symbols. */
  readonly count: number;
  /** The address encoding that reproduced _stext. */
  readonly encoding: KallsymsEncoding;
  private readonly names: Uint8Array;
  private readonly tokens: string[];
  private readonly nameAt: Uint32Array;
  /**
   * Length of each expanded name with its type letter (capped at 65535), worked out when a lookup first meets the
   * symbol (0 until then): most candidates fail on it alone.
   */
  private readonly nameLength: Uint16Array;
  private readonly tokenLength: Uint8Array;
  /** Symbol indexes grouped by their first two token bytes; pairStart[key] is where group `key` begins. */
  private readonly pairSyms: Uint32Array;
  private readonly pairStart: Uint32Array;
  /** Address minus `base` for kernel symbols; value - 2^40 for absolute per-CPU ones. Sorted via `order`. */
  private readonly keys: Float64Array;
  private readonly base: bigint;
  /** Symbol indexes in address order (undefined when the table is already sorted). */
  private readonly order?: Uint32Array;
  /** Token ids by their text, and first-token ids by their text after the type letter. */
  private readonly byText = new Map<string, number[]>();
  private readonly byHead = new Map<string, number[]>();
  private readonly longestToken: number;
  /** Answers of indexesOf, by name (analysis asks for the same few dozen names again and again). */
  private readonly found = new Map<string, number[]>();

  /**
   * Indexes the tables; `stext` (SYMBOL(_stext)) decides the address encoding. BadDataError when the names do
   * not decode or no encoding gives _stext.
   * @example new Kallsyms(tables, info.symbols.get("_stext")!).lookup("init_task")
   */
  constructor(t: KallsymsTables, stext: bigint) {
    this.count = t.count;
    this.names = t.names;
    this.tokens = decodeTokens(t.tokenTable, t.tokenIndex);
    const add = (m: Map<string, number[]>, k: string, id: number) => (m.get(k) ?? m.set(k, []).get(k)!).push(id);
    this.tokens.forEach((tok, id) => {
      if (!tok) return;
      add(this.byText, tok, id);
      add(this.byHead, tok.slice(1), id);
    });
    this.longestToken = Math.max(0, ...this.tokens.map((x) => x.length));
    this.nameAt = new Uint32Array(t.count);
    this.nameLength = new Uint16Array(t.count);
    this.tokenLength = Uint8Array.from(this.tokens, (x) => Math.min(x.length, 255));
    const pair = new Uint32Array(t.count);
    const groups = 256 * 257;
    const size = new Uint32Array(groups + 1);
    const n = t.names;
    let p = 0;
    for (let i = 0; i < t.count; i++) {
      this.nameAt[i] = p;
      if (p >= n.length) throw namesError(i, t.count, n.length);
      let len = n[p++]!;
      if (len & 0x80) len = (len & 0x7f) | (n[p++]! << 7);
      if (len === 0 || p + len > n.length) throw namesError(i, t.count, n.length);
      const key = n[p]! * 257 + (len > 1 ? n[p + 1]! : ONE_TOKEN);
      pair[i] = key;
      size[key + 1]!++;
      p += len;
    }
    for (let k = 1; k <= groups; k++) size[k]! += size[k - 1]!;
    this.pairStart = size.slice();
    this.pairSyms = new Uint32Array(t.count);
    for (let i = 0; i < t.count; i++) this.pairSyms[size[pair[i]!]!++] = i;
    if (t.offsets.byteLength < t.count * 4) throw new BadDataError(`kallsyms: offsets hold ${t.offsets.byteLength >> 2} entries, ${t.count} expected`);
    const off = new Int32Array(t.offsets.slice(0, t.count * 4).buffer);
    const stextIdx = this.indexesOf("_stext");
    if (!stextIdx.length) throw new BadDataError("kallsyms: no _stext among the symbol names", { hint: "the kallsyms tables are not where VMCOREINFO says" });
    const encodings: KallsymsEncoding[] = t.relativeBase === undefined ? ["place-relative"] : ["absolute-percpu", "relative", "place-relative"];
    const enc = encodings.find((e) => stextIdx.some((i) => symbolAddress(e, off[i]!, i, t) === stext));
    if (!enc)
      throw new BadDataError(`kallsyms: no address encoding gives _stext 0x${stext.toString(16)}`, {
        hint: `kallsyms_offsets${t.relativeBase === undefined ? " (place-relative: this kernel has no kallsyms_relative_base)" : " or kallsyms_relative_base"} do not belong to this dump (or the System.map does not)`,
      });
    this.encoding = enc;
    this.base = enc === "place-relative" ? t.offsetsAddr : t.relativeBase!;
    const keys = new Float64Array(t.count);
    let sorted = true;
    for (let i = 0; i < t.count; i++) {
      const o = off[i]!;
      keys[i] = enc === "relative" ? o >>> 0 : enc === "place-relative" ? i * 4 + o : o >= 0 ? o - PERCPU_KEY : -1 - o;
      if (i && keys[i]! < keys[i - 1]!) sorted = false;
    }
    this.keys = keys;
    if (!sorted) this.order = Uint32Array.from(keys.keys()).sort((a, b) => keys[a]! - keys[b]! || a - b);
  }

  /** Name of symbol `i`. */
  name(i: number): string {
    return this.expand(i).slice(1);
  }

  /** nm type letter of symbol `i` ("A" for per-CPU symbols on kernels with absolute per-CPU kallsyms). */
  type(i: number): string {
    return this.expand(i)[0]!;
  }

  /** Address of symbol `i`. */
  address(i: number): bigint {
    const k = this.keys[i]!;
    if (k < 0 && this.encoding === "absolute-percpu") return BigInt(k + PERCPU_KEY);
    return (this.base + BigInt(k)) & 0xffffffffffffffffn;
  }

  /**
   * Names kallsyms lacks, from a System.map given by the user: a kernel built without CONFIG_KALLSYMS_ALL (Debian's
   * 6.1 arm64) keeps function names only, and its data symbols (init_task, nr_cpu_ids, __per_cpu_offset) are there.
   */
  fallback?: Map<string, bigint>;

  /** Address of symbol `name` (the first one of that name), else the fallback System.map's, or undefined. */
  lookup(name: string): bigint | undefined {
    const i = this.indexesOf(name)[0];
    return i === undefined ? this.fallback?.get(name) : this.address(i);
  }

  /** Address of symbol `name`; MissingDataError when the kernel has none. */
  require(name: string): bigint {
    const a = this.lookup(name);
    if (a === undefined) {
      // a kernel without CONFIG_KALLSYMS_ALL keeps [_stext, _etext] and init text only: no data symbol at all
      if (!this.fallback && this.lookup("_stext") !== undefined && this.lookup("_text") === undefined && this.lookup("init_task") === undefined)
        throw new MissingDataError(`kallsyms: no symbol ${name}: this kernel's kallsyms holds function names only (built without CONFIG_KALLSYMS_ALL, as Debian's 6.1 arm64 kernels are)`, {
          hint: "give the kernel's full System.map (from its -dbg package) with --system-map",
        });
      throw new MissingDataError(`kallsyms: no symbol ${name}`, { hint: this.fallback ? "the System.map given has none either" : "this kernel lacks what kdump needs here; please report its version" });
    }
    return a;
  }

  /**
   * The symbol containing `addr`: the last one at or below it (the first of several aliases there), or undefined
   * past the end of the last symbol. Kernel addresses never match per-CPU symbols.
   */
  symbolize(addr: bigint): SymbolHit | undefined {
    const d = addr - this.base;
    if (d < -(1n << 40n) || d >= 1n << 40n) return undefined;
    const key = Number(d);
    const at = (j: number) => this.order ? this.order[j]! : j;
    let lo = 0;
    let hi = this.count - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.keys[at(mid)]! <= key) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (found < 0 || (this.encoding === "absolute-percpu" && this.keys[at(found)]! < 0)) return undefined;
    const k = this.keys[at(found)]!;
    while (found > 0 && this.keys[at(found - 1)] === k) found--;
    let next = found + 1;
    while (next < this.count && this.keys[at(next)] === k) next++;
    const size = next < this.count ? this.keys[at(next)]! - k : 0;
    if (size && key - k >= size) return undefined;
    const i = at(found);
    const s = this.expand(i);
    return { name: s.slice(1), offset: key - k, size, address: this.address(i), type: s[0]! };
  }

  /**
   * Indexes of the symbols named `name`, in table order: only the groups whose first two tokens can spell the
   * start of `name` (the first token begins with the type letter) are expanded and compared. The candidate tokens
   * are the prefixes of `name` looked up by text, so a lookup costs a few dozen map probes and one or two groups.
   */
  private indexesOf(name: string): number[] {
    const known = this.found.get(name);
    if (known) return known;
    const out: number[] = [];
    const chars = Math.min(name.length + 1, 65535);
    const group = (key: number) => {
      for (let j = this.pairStart[key]!; j < this.pairStart[key + 1]!; j++) {
        const i = this.pairSyms[j]!;
        if ((this.nameLength[i] || this.measure(i)) === chars && this.nameIs(i, name)) out.push(i);
      }
    };
    const longest = this.longestToken;
    for (let h = 0; h < longest && h <= name.length; h++) {
      for (const t1 of this.byHead.get(name.slice(0, h)) ?? []) {
        if (h === name.length) {
          group(t1 * 257 + ONE_TOKEN);
          continue;
        }
        for (let r = h + 1; r <= h + longest && r <= name.length; r++) for (const t2 of this.byText.get(name.slice(h, r)) ?? []) group(t1 * 257 + t2);
      }
    }
    out.sort((a, b) => a - b);
    this.found.set(name, out);
    return out;
  }

  /** Works out and keeps nameLength[i]. */
  private measure(i: number): number {
    const n = this.names;
    let p = this.nameAt[i]!;
    let len = n[p++]!;
    if (len & 0x80) len = (len & 0x7f) | (n[p++]! << 7);
    let chars = 0;
    for (const end = p + len; p < end; p++) chars += this.tokenLength[n[p]!]!;
    return (this.nameLength[i] = Math.min(chars, 65535));
  }

  /** True when symbol `i` is named `name`: its tokens are compared in place, stopping at the first difference. */
  private nameIs(i: number, name: string): boolean {
    const n = this.names;
    let p = this.nameAt[i]!;
    let len = n[p++]!;
    if (len & 0x80) len = (len & 0x7f) | (n[p++]! << 7);
    const end = p + len;
    const first = this.tokens[n[p++]!]!;
    let at = first.length - 1;
    if (!name.startsWith(first.slice(1))) return false;
    for (; p < end; p++) {
      const tok = this.tokens[n[p]!]!;
      if (!name.startsWith(tok, at)) return false;
      at += tok.length;
    }
    return at === name.length;
  }

  /** The expanded string (type letter, then name) of symbol `i`. */
  private expand(i: number): string {
    const n = this.names;
    let p = this.nameAt[i]!;
    let len = n[p++]!;
    if (len & 0x80) len = (len & 0x7f) | (n[p++]! << 7);
    let s = "";
    for (const end = p + len; p < end; p++) s += this.tokens[n[p]!];
    return s;
  }
}

function namesError(i: number, count: number, size: number): BadDataError {
  return new BadDataError(`kallsyms: name ${i} of ${count} runs past the ${size} bytes of kallsyms_names`, {
    hint: "kallsyms_names or kallsyms_num_syms is wrong for this dump",
  });
}

/** Address of symbol `i` whose raw offset is `off`, in encoding `e`. */
function symbolAddress(e: KallsymsEncoding, off: number, i: number, t: KallsymsTables): bigint {
  if (e === "relative") return (t.relativeBase! + BigInt(off >>> 0)) & 0xffffffffffffffffn;
  if (e === "absolute-percpu") return off >= 0 ? BigInt(off) : (t.relativeBase! - 1n - BigInt(off)) & 0xffffffffffffffffn;
  return (t.offsetsAddr + BigInt(i * 4) + BigInt(off)) & 0xffffffffffffffffn;
}

/** The 256 tokens: token_index[b] is the offset of token b's NUL-terminated string in token_table. */
export function decodeTokens(table: Uint8Array, index: Uint8Array): string[] {
  const dv = new DataView(index.buffer, index.byteOffset, index.byteLength);
  const out: string[] = [];
  for (let b = 0; b < 256; b++) {
    let p = dv.getUint16(b * 2, true);
    if (p >= table.length) throw new BadDataError(`kallsyms: token ${b} at ${p} lies past the token table (${table.length} bytes read)`);
    let s = "";
    while (p < table.length && table[p] !== 0) s += String.fromCharCode(table[p++]!);
    out.push(s);
  }
  return out;
}

/**
 * Bytes that `count` entries of kallsyms_names take, or -1 when `names` is too short. Each entry is a length (one
 * byte, or two when the first has bit 7 set: 6.1's 73bbb94466fd "kallsyms: support big kernel symbols"), then that
 * many token bytes; the first expanded character is the nm type letter.
 */
function namesLength(names: Uint8Array, count: number): number {
  let p = 0;
  for (let i = 0; i < count && p < names.length; i++) {
    let len = names[p++]!;
    if (len & 0x80) len = (len & 0x7f) | (names[p++]! << 7);
    p += len;
    if (i === count - 1) return p <= names.length ? p : -1;
  }
  return -1;
}

/**
 * Reads the kallsyms tables at `a` from kernel memory. kallsyms_names has no recorded size: it is read in growing
 * pieces until `count` names decode.
 */
export function readKallsymsTables(mem: Pick<KernelView, "read">, a: KallsymsAddrs): KallsymsTables {
  const copy = (addr: bigint, n: number) => mem.read(addr, n).slice();
  const u32 = (addr: bigint) => new DataView(copy(addr, 4).buffer).getUint32(0, true);
  const count = u32(a.num_syms);
  if (count === 0 || count > 4_000_000) throw new BadDataError(`kallsyms: kallsyms_num_syms is ${count}`, { hint: "the dump's kallsyms tables look corrupted" });
  const tokenIndex = copy(a.token_index, 512);
  const idx = new DataView(tokenIndex.buffer);
  let maxIdx = 0;
  for (let b = 0; b < 256; b++) maxIdx = Math.max(maxIdx, idx.getUint16(b * 2, true));
  const tokenTable = copy(a.token_table, maxIdx + 64);
  const offsets = copy(a.offsets, count * 4);
  const relativeBase = a.relative_base === undefined ? undefined : new DataView(copy(a.relative_base, 8).buffer).getBigUint64(0, true);
  let size = Math.min(count * 16, 1 << 24);
  let names = copy(a.names, size);
  while (namesLength(names, count) < 0) {
    if (size >= 1 << 26) throw new BadDataError(`kallsyms: ${count} names do not fit in ${size} bytes of kallsyms_names`, { hint: "the dump's kallsyms tables look corrupted" });
    size *= 2;
    names = copy(a.names, size);
  }
  return { count, names, tokenTable, tokenIndex, offsets, relativeBase, offsetsAddr: a.offsets };
}
