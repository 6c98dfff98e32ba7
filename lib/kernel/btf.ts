// BTF, the kernel's own type information, as it sits in memory between __start_BTF and __stop_BTF (and in a
// vmlinux's .BTF section): header, types (kinds 1–19, ENUM64 since 6.0), strings. Enough to find struct member
// offsets by name, through anonymous structs and unions and bitfields. Little-endian (x86_64).
import { BadDataError, MissingDataError } from "../errors.ts";

/** BTF kinds (include/uapi/linux/btf.h). */
export const BtfKind = {
  INT: 1,
  PTR: 2,
  ARRAY: 3,
  STRUCT: 4,
  UNION: 5,
  ENUM: 6,
  FWD: 7,
  TYPEDEF: 8,
  VOLATILE: 9,
  CONST: 10,
  RESTRICT: 11,
  FUNC: 12,
  FUNC_PROTO: 13,
  VAR: 14,
  DATASEC: 15,
  FLOAT: 16,
  DECL_TAG: 17,
  TYPE_TAG: 18,
  ENUM64: 19,
} as const;

/** Bytes after the 12-byte `struct btf_type`, per kind: [fixed, per vlen item]. Index = kind. */
const EXTRA: [number, number][] = [
  [0, 0], [4, 0], [0, 0], [12, 0], [0, 12], [0, 12], [0, 8], [0, 0], [0, 0], [0, 0],
  [0, 0], [0, 0], [0, 0], [0, 8], [4, 0], [0, 12], [0, 0], [4, 0], [0, 0], [0, 12],
];

/** Kinds that only qualify or rename another type. */
const MODIFIERS: Set<number> = new Set([BtfKind.TYPEDEF, BtfKind.VOLATILE, BtfKind.CONST, BtfKind.RESTRICT, BtfKind.TYPE_TAG]);

/** A member of a struct or union. */
export interface BtfMember {
  /** Member name; "" for an anonymous struct or union. */
  name: string;
  /** Type id of the member. */
  type: number;
  /** Offset from the start of the enclosing type, in bits. */
  bitOffset: number;
  /** Width of a bitfield in bits, 0 when the member is not a bitfield. */
  bitSize: number;
}

/** Where a (possibly nested) member lies inside a struct. */
export interface BtfField {
  /** Byte offset of the member (of the byte holding its first bit, for a bitfield). */
  offset: number;
  /** Offset in bits from the start of the outer struct. */
  bitOffset: number;
  /** Width of a bitfield in bits, 0 when it is not a bitfield. */
  bitSize: number;
  /** Type id of the member. */
  type: number;
}

/** The parsed BTF of one kernel. Type ids start at 1; 0 is void. */
export class Btf {
  /** Number of type ids (including void at 0) that could be read. */
  readonly count: number;
  /** Set when a kind this parser does not know stopped the walk: types from `id` on are unreadable. */
  readonly unknownKind?: { id: number; kind: number };
  private readonly dv: DataView;
  private readonly typeStart: number;
  private readonly strStart: number;
  private readonly strEnd: number;
  /** Byte offset of each type record, relative to the type section. */
  private readonly offsets: Uint32Array;
  /** name_off of each type (searched natively by find()). */
  private readonly nameOffs: Uint32Array;
  private readonly names = new Map<string, number[]>();
  private vars?: Map<string, number>;
  private enums?: Map<number, bigint>;
  private readonly hasMember = new Map<string, boolean>();

  /**
   * Parses BTF bytes (header, types, strings). Throws BadDataError for a bad header or sections out of bounds.
   * @example const btf = new Btf(bytes); btf.offsetof("task_struct", "comm")
   */
  constructor(readonly bytes: Uint8Array) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.length < 24 || this.dv.getUint16(0, true) !== 0xeb9f)
      throw new BadDataError(`BTF: bad magic ${bytes.length >= 2 ? "0x" + this.dv.getUint16(0, true).toString(16) : "(empty)"}, expected 0xeb9f`, {
        hint: "__start_BTF does not point at BTF; is the kernel built with CONFIG_DEBUG_INFO_BTF?",
      });
    // struct btf_header { u16 magic; u8 version; u8 flags; u32 hdr_len; u32 type_off, type_len, str_off, str_len; }
    const hdrLen = this.dv.getUint32(4, true);
    const typeOff = this.dv.getUint32(8, true);
    const typeLen = this.dv.getUint32(12, true);
    const strOff = this.dv.getUint32(16, true);
    const strLen = this.dv.getUint32(20, true);
    if (hdrLen + typeOff + typeLen > bytes.length || hdrLen + strOff + strLen > bytes.length)
      throw new BadDataError(`BTF: sections (types ${typeLen} bytes, strings ${strLen} bytes) run past its ${bytes.length} bytes`, {
        hint: "the BTF in the dump is truncated or corrupted",
      });
    this.typeStart = hdrLen + typeOff;
    this.strStart = hdrLen + strOff;
    this.strEnd = this.strStart + strLen;
    // Every record is at least 12 bytes: that bounds the number of types.
    const offs = new Uint32Array(Math.floor(typeLen / 12) + 1);
    const nameOffs = new Uint32Array(offs.length);
    let n = 1;
    let o = 0;
    while (o + 12 <= typeLen) {
      const info = this.dv.getUint32(this.typeStart + o + 4, true);
      const kind = (info >>> 24) & 0x1f;
      const extra = EXTRA[kind];
      if (kind === 0 || !extra) {
        this.unknownKind = { id: n, kind };
        break;
      }
      nameOffs[n] = this.dv.getUint32(this.typeStart + o, true);
      offs[n++] = o;
      o += 12 + extra[0] + extra[1] * (info & 0xffff);
    }
    this.offsets = offs.subarray(0, n);
    this.nameOffs = nameOffs.subarray(0, n);
    this.count = n;
  }

  /** Kind of type `id` (0 for void). */
  kind(id: number): number {
    return id === 0 ? 0 : (this.info(id) >>> 24) & 0x1f;
  }

  /** Name of type `id` ("" when anonymous). */
  name(id: number): string {
    return id === 0 ? "void" : this.str(this.u32(id, 0));
  }

  /** Ids of the types named `name`, optionally only of `kind`. */
  find(name: string, kind?: number): number[] {
    let ids = this.names.get(name);
    if (!ids) {
      ids = [];
      for (const off of this.strOffsets(name)) for (let id = this.nameOffs.indexOf(off, 1); id > 0; id = this.nameOffs.indexOf(off, id + 1)) ids.push(id);
      ids.sort((a, b) => a - b);
      this.names.set(name, ids);
    }
    return kind === undefined ? ids : ids.filter((id) => this.kind(id) === kind);
  }

  /** The id of struct (or union) `name` that has members; MissingDataError when there is none. */
  struct(name: string): number {
    const ids = this.find(name).filter((id) => {
      const k = this.kind(id);
      return (k === BtfKind.STRUCT || k === BtfKind.UNION) && this.vlen(id) > 0;
    });
    if (!ids.length) throw this.missing(`struct ${name}`);
    return ids[0]!;
  }

  /** True when struct `name` exists in the BTF. */
  hasStruct(name: string): boolean {
    try {
      this.struct(name);
      return true;
    } catch {
      return false;
    }
  }

  /** The type `id` refers to with typedefs, const, volatile, restrict and type tags removed. */
  resolve(id: number): number {
    for (let i = 0; i < 64 && MODIFIERS.has(this.kind(id)); i++) id = this.u32(id, 8);
    return id;
  }

  /** Size in bytes of type `id` (pointers 8, arrays elements × count). */
  sizeof(id: number | string): number {
    const t = this.resolve(typeof id === "string" ? this.struct(id) : id);
    const k = this.kind(t);
    if (k === BtfKind.PTR) return 8;
    if (k === BtfKind.ARRAY) {
      const a = this.array(t);
      return a.nelems * this.sizeof(a.type);
    }
    if (k === BtfKind.INT || k === BtfKind.STRUCT || k === BtfKind.UNION || k === BtfKind.ENUM || k === BtfKind.ENUM64 || k === BtfKind.FLOAT || k === BtfKind.DATASEC)
      return this.u32(t, 8);
    throw new BadDataError(`BTF: type ${t} (${this.name(t)}, kind ${k}) has no size`);
  }

  /** The type a pointer, typedef or qualifier points at. */
  target(id: number): number {
    return this.u32(id, 8);
  }

  /** Element type and count of array type `id`. */
  array(id: number): { type: number; nelems: number } {
    const t = this.resolve(id);
    if (this.kind(t) !== BtfKind.ARRAY) throw new BadDataError(`BTF: type ${t} (${this.name(t)}) is not an array`);
    return { type: this.u32(t, 12), nelems: this.u32(t, 20) };
  }

  /** The direct members of struct or union `id`. */
  members(id: number): BtfMember[] {
    const t = this.resolve(id);
    const k = this.kind(t);
    if (k !== BtfKind.STRUCT && k !== BtfKind.UNION) throw new BadDataError(`BTF: type ${t} (${this.name(t)}) is not a struct or union`);
    const bitfields = this.info(t) >>> 31 === 1;
    const out: BtfMember[] = [];
    for (let i = 0, n = this.vlen(t); i < n; i++) {
      // struct btf_member { u32 name_off; u32 type; u32 offset; } (kind_flag: bitfield_size << 24 | bit_offset)
      const raw = this.u32(t, 12 + i * 12 + 8);
      const type = this.u32(t, 12 + i * 12 + 4);
      let bitOffset = bitfields ? raw & 0xffffff : raw;
      let bitSize = bitfields ? raw >>> 24 : 0;
      if (!bitfields) {
        // Old-style bitfield: an INT whose encoding carries bits narrower than its size.
        const r = this.resolve(type);
        if (this.kind(r) === BtfKind.INT) {
          const enc = this.u32(r, 12);
          if ((enc & 0xff) !== this.u32(r, 8) * 8) {
            bitSize = enc & 0xff;
            bitOffset += (enc >>> 16) & 0xff;
          }
        }
      }
      out.push({ name: this.str(this.u32(t, 12 + i * 12)), type, bitOffset, bitSize });
    }
    return out;
  }

  /**
   * Where member `path` ("comm", "thread.sp", "mem") lies in struct `struct`, looking through anonymous structs
   * and unions. MissingDataError when absent.
   * @example btf.field("task_struct", "thread.sp").offset
   */
  field(struct: string | number, path: string): BtfField {
    let id = typeof struct === "string" ? this.struct(struct) : struct;
    let bits = 0;
    let found: BtfMember | undefined;
    for (const part of path.split(".")) {
      const hit = this.findMember(id, new TextEncoder().encode(part));
      if (!hit) throw this.missing(`member ${path} of ${typeof struct === "string" ? "struct " + struct : this.name(id)}`);
      bits += hit.bitOffset;
      found = hit;
      id = hit.type;
    }
    return { offset: Math.floor(bits / 8), bitOffset: bits, bitSize: found!.bitSize, type: found!.type };
  }

  /** Byte offset of member `path` in struct `struct` (see field()). */
  offsetof(struct: string | number, path: string): number {
    return this.field(struct, path).offset;
  }

  /** True when struct `struct` (a name or a type id) has member `path`; answers are kept (a miss costs an Error). */
  has(struct: string | number, path: string): boolean {
    const key = `${typeof struct === "string" ? struct : "#" + struct}.${path}`;
    let yes = this.hasMember.get(key);
    if (yes === undefined) {
      try {
        this.field(struct, path);
        yes = true;
      } catch {
        yes = false;
      }
      this.hasMember.set(key, yes);
    }
    return yes;
  }

  /** The value of enumerator `name` (from any ENUM or ENUM64), or undefined. */
  enumValue(name: string): bigint | undefined {
    const byName = this.enumByNameOff();
    for (const off of this.strOffsets(name)) {
      const v = byName.get(off);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  /** Every enumerator's value by the string offset of its name (the first enum declaring it wins), built once. */
  private enumByNameOff(): Map<number, bigint> {
    if (this.enums) return this.enums;
    const out = new Map<number, bigint>();
    const dv = this.dv;
    for (let id = 1; id < this.count; id++) {
      const info = dv.getUint32(this.typeStart + this.offsets[id]! + 4, true);
      const k = (info >>> 24) & 0x1f;
      if (k !== BtfKind.ENUM && k !== BtfKind.ENUM64) continue;
      const step = k === BtfKind.ENUM ? 8 : 12;
      const base = this.typeStart + this.offsets[id]! + 12;
      for (let i = 0, n = info & 0xffff; i < n; i++) {
        const off = this.dv.getUint32(base + i * step, true);
        if (out.has(off)) continue;
        if (k === BtfKind.ENUM) out.set(off, BigInt(this.dv.getInt32(base + i * step + 4, true)));
        else out.set(off, (BigInt(this.dv.getUint32(base + i * step + 8, true)) << 32n) | BigInt(this.dv.getUint32(base + i * step + 4, true)));
      }
    }
    return (this.enums = out);
  }

  /** The raw `info` word of type `id` (kind << 24 | kind_flag << 31 | vlen). */
  rawInfo(id: number): number {
    return this.info(id);
  }

  /** An INT's encoding: signed, char or bool, and its width in bits (BTF_INT_ENCODING, BTF_INT_BITS). */
  intEncoding(id: number): { signed: boolean; char: boolean; bool: boolean; bits: number } {
    const t = this.resolve(id);
    if (this.kind(t) !== BtfKind.INT) throw new BadDataError(`BTF: type ${t} (${this.name(t)}) is not an integer`);
    const enc = this.u32(t, 12);
    const flags = (enc >>> 24) & 0xf;
    return { signed: (flags & 1) !== 0, char: (flags & 2) !== 0, bool: (flags & 4) !== 0, bits: enc & 0xff };
  }

  /** The enumerators of ENUM or ENUM64 type `id`, in declaration order. */
  enumerators(id: number): { name: string; value: bigint }[] {
    const t = this.resolve(id);
    const k = this.kind(t);
    if (k !== BtfKind.ENUM && k !== BtfKind.ENUM64) throw new BadDataError(`BTF: type ${t} (${this.name(t)}) is not an enum`);
    const signed = this.info(t) >>> 31 === 1;
    const out: { name: string; value: bigint }[] = [];
    const step = k === BtfKind.ENUM ? 8 : 12;
    for (let i = 0, n = this.vlen(t); i < n; i++) {
      const at = this.typeStart + this.offsets[t]! + 12 + i * step;
      const name = this.str(this.dv.getUint32(at, true));
      const value =
        k === BtfKind.ENUM
          ? signed ? BigInt(this.dv.getInt32(at + 4, true)) : BigInt(this.dv.getUint32(at + 4, true))
          : (BigInt(this.dv.getUint32(at + 8, true)) << 32n) | BigInt(this.dv.getUint32(at + 4, true));
      out.push({ name, value });
    }
    return out;
  }

  /** The parameters of FUNC_PROTO type `id`: name ("" when unnamed) and type id (0 for a trailing `...`). */
  params(id: number): { name: string; type: number }[] {
    const out: { name: string; type: number }[] = [];
    for (let i = 0, n = this.vlen(id); i < n; i++) out.push({ name: this.str(this.u32(id, 12 + i * 8)), type: this.u32(id, 12 + i * 8 + 4) });
    return out;
  }

  /** Per-CPU variables (VAR entries of the .data..percpu DATASEC): name → type id. */
  variables(): Map<string, number> {
    if (!this.vars) {
      this.vars = new Map();
      const dv = this.dv;
      for (let id = 1; id < this.count; id++) {
        const at = this.typeStart + this.offsets[id]!;
        if (((dv.getUint32(at + 4, true) >>> 24) & 0x1f) === BtfKind.VAR) this.vars.set(this.str(dv.getUint32(at, true)), dv.getUint32(at + 8, true));
      }
    }
    return this.vars;
  }

  /**
   * The member named `name` (bytes) of struct/union `id`, searching anonymous members; offsets relative to `id`.
   * Names are compared as bytes in the string section, without decoding them.
   */
  private findMember(id: number, name: Uint8Array): BtfMember | undefined {
    const t = this.resolve(id);
    const k = this.kind(t);
    if (k !== BtfKind.STRUCT && k !== BtfKind.UNION) return undefined;
    let members: BtfMember[] | undefined;
    for (let i = 0, n = this.vlen(t); i < n; i++) {
      const nameOff = this.u32(t, 12 + i * 12);
      if (nameOff !== 0 && !this.nameIs(nameOff, name)) continue;
      const m = (members ??= this.members(t))[i]!;
      if (nameOff !== 0) return m;
      const inner = this.findMember(m.type, name);
      if (inner) return { ...inner, bitOffset: inner.bitOffset + m.bitOffset };
    }
    return undefined;
  }

  private missing(what: string): MissingDataError {
    const u = this.unknownKind;
    if (!u) return new MissingDataError(`BTF: no ${what}`, { hint: "this kernel's structures differ from what kdump knows; please report the kernel version" });
    // kind 0 is never a type's; a kind past ENUM64 is a newer kernel's, or the same corruption
    return new MissingDataError(`BTF: no ${what} (BTF reading stopped at type ${u.id} of unknown kind ${u.kind})`, {
      hint: u.kind === 0 ? "the BTF in the dump is corrupted from that type on: try another dump of this crash" : "the BTF is corrupted, or from a kernel newer than kdump knows: try another dump, and please report the kernel version",
    });
  }

  private info(id: number): number {
    return this.u32(id, 4);
  }

  private vlen(id: number): number {
    return this.info(id) & 0xffff;
  }

  private u32(id: number, at: number): number {
    if (id <= 0 || id >= this.count) {
      if (this.unknownKind) throw this.missing(`type ${id}`);
      // every type was read: a reference past them is a corrupted type or member record
      throw new MissingDataError(`BTF: no type ${id} (it holds types 1 to ${this.count - 1})`, { hint: "the BTF in the dump is corrupted: try another dump of this crash" });
    }
    return this.dv.getUint32(this.typeStart + this.offsets[id]! + at, true);
  }

  /** The NUL-terminated string at offset `off` of the string section. */
  private str(off: number): string {
    let p = this.strStart + off;
    if (p >= this.strEnd) throw new BadDataError(`BTF: string offset ${off} past the string section`, { hint: "the BTF in the dump is corrupted: try another dump of this crash" });
    const start = p;
    while (p < this.strEnd && this.bytes[p] !== 0) p++;
    return new TextDecoder().decode(this.bytes.subarray(start, p));
  }

  /** True when the string at offset `off` is exactly `name`. */
  private nameIs(off: number, name: Uint8Array): boolean {
    const p = this.strStart + off;
    if (p + name.length >= this.strEnd || this.bytes[p + name.length] !== 0) return false;
    for (let i = 0; i < name.length; i++) if (this.bytes[p + i] !== name[i]) return false;
    return true;
  }

  /** Offsets in the string section at which `name` appears as a whole string. */
  private strOffsets(name: string): Set<number> {
    const strings = Buffer.from(this.bytes.buffer, this.bytes.byteOffset + this.strStart, this.strEnd - this.strStart);
    const needle = Buffer.from(`\0${name}\0`);
    const out = new Set<number>();
    for (let i = strings.indexOf(needle); i >= 0; i = strings.indexOf(needle, i + 1)) out.add(i + 1);
    return out;
  }
}
