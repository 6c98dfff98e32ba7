// Kernel types for the typed object model: a BTF type id, optionally wrapped in pointers and arrays that BTF
// itself does not spell (a cast to `struct task_struct *` needs no PTR record). C spellings as gdb and crash
// print them; names parsed the way people type them ("unsigned long", "struct list_head *", "char [16]").
import { UsageError } from "../errors.ts";
import { type Btf, BtfKind } from "./btf.ts";

/** What a type is, after typedefs and qualifiers are looked through. */
export type TypeKind = "void" | "int" | "bool" | "float" | "pointer" | "array" | "struct" | "union" | "enum" | "function";

/** A derived layer on top of a BTF type: a pointer ("*") or an array of that many elements. */
export type Derived = "*" | number;

/** A member of a struct or union type. */
export interface TypeMember {
  /** Member name ("" for an anonymous struct or union). */
  name: string;
  /** Its type. */
  type: KernelType;
  /** Byte offset from the start of the enclosing type. */
  offset: number;
  /** Bit offset from the start of the enclosing type. */
  bitOffset: number;
  /** Width in bits of a bitfield, 0 otherwise. */
  bitSize: number;
}

/** gdb's spellings of C's integer names, as BTF records them. */
const INT_ALIASES: Record<string, string> = {
  "unsigned long": "long unsigned int",
  "unsigned long int": "long unsigned int",
  long: "long int",
  "signed long": "long int",
  "unsigned long long": "long long unsigned int",
  "long long": "long long int",
  unsigned: "unsigned int",
  "unsigned short": "short unsigned int",
  short: "short int",
  "signed char": "signed char",
};

/** Members found by path, per BTF and type id (member() is called for every object a walk reads). */
const MEMBERS = new WeakMap<Btf, Map<string, TypeMember>>();

/**
 * A type of the crashed kernel.
 * @example const t = k.type("struct task_struct"); t.size; t.member("comm").offset
 */
export class KernelType {
  constructor(
    readonly btf: Btf,
    /** The BTF type id underneath (0 is void). */
    readonly id: number,
    /** Pointers and arrays built on top of `id`, innermost first. */
    readonly derived: readonly Derived[] = [],
  ) {}

  /** The BTF id with typedefs and qualifiers looked through. */
  private get base(): number {
    return this.btf.resolve(this.id);
  }

  /** What this type is, typedefs and const/volatile looked through. */
  get kind(): TypeKind {
    const d = this.derived.at(-1);
    if (d !== undefined) return d === "*" ? "pointer" : "array";
    const t = this.base;
    switch (this.btf.kind(t)) {
      case 0:
        return "void";
      case BtfKind.INT:
        return this.btf.intEncoding(t).bool ? "bool" : "int";
      case BtfKind.PTR:
        return "pointer";
      case BtfKind.ARRAY:
        return "array";
      case BtfKind.STRUCT:
        return "struct";
      case BtfKind.UNION:
        return "union";
      case BtfKind.ENUM:
      case BtfKind.ENUM64:
        return "enum";
      case BtfKind.FLOAT:
        return "float";
      case BtfKind.FUNC_PROTO:
      case BtfKind.FUNC:
        return "function";
      default:
        // FWD: a struct declared but not defined here.
        return this.btf.rawInfo(t) >>> 31 === 1 ? "union" : "struct";
    }
  }

  /** The C spelling: "struct task_struct *", "long unsigned int", "char [16]". */
  get name(): string {
    return spell(this.btf, this.id, this.derived);
  }

  /** Size in bytes (pointers 8). */
  get size(): number {
    const d = this.derived.at(-1);
    if (d === "*") return 8;
    if (typeof d === "number") return d * this.element().size;
    const k = this.btf.kind(this.base);
    if (k === 0 || k === BtfKind.FUNC_PROTO || k === BtfKind.FUNC || k === BtfKind.FWD) return 0;
    return this.btf.sizeof(this.base);
  }

  /** True for an integer type the kernel declares signed (and for signed enums). */
  get signed(): boolean {
    if (this.derived.length) return false;
    const k = this.btf.kind(this.base);
    if (k === BtfKind.INT) return this.btf.intEncoding(this.base).signed;
    if (k === BtfKind.ENUM || k === BtfKind.ENUM64) return this.btf.rawInfo(this.base) >>> 31 === 1;
    return false;
  }

  /** True for char, signed char and unsigned char (what `string()` reads). */
  get isChar(): boolean {
    if (this.derived.length || this.btf.kind(this.base) !== BtfKind.INT) return false;
    const n = this.btf.name(this.base);
    return this.size === 1 && (this.btf.intEncoding(this.base).char || n.endsWith("char"));
  }

  /** A pointer to this type. */
  pointer(): KernelType {
    return new KernelType(this.btf, this.id, [...this.derived, "*"]);
  }

  /** The type a pointer points at. */
  target(): KernelType {
    const d = this.derived.at(-1);
    if (d === "*") return new KernelType(this.btf, this.id, this.derived.slice(0, -1));
    if (this.kind !== "pointer") throw new UsageError(`${this.name} is not a pointer`, { hint: "deref() and target() need a pointer type" });
    return new KernelType(this.btf, this.btf.target(this.base));
  }

  /** An array's element type. */
  element(): KernelType {
    const d = this.derived.at(-1);
    if (typeof d === "number") return new KernelType(this.btf, this.id, this.derived.slice(0, -1));
    if (this.kind === "pointer") return this.target();
    if (this.kind !== "array") throw new UsageError(`${this.name} is not an array or pointer`, { hint: "index() needs an array or a pointer" });
    return new KernelType(this.btf, this.btf.array(this.base).type);
  }

  /** An array's number of elements. */
  get length(): number {
    const d = this.derived.at(-1);
    if (typeof d === "number") return d;
    return this.kind === "array" ? this.btf.array(this.base).nelems : 0;
  }

  /** This type with typedefs and qualifiers looked through (derived layers kept). */
  unqualified(): KernelType {
    return this.derived.length ? this : new KernelType(this.btf, this.base);
  }

  /** The direct members of a struct or union (anonymous ones as "" entries). */
  members(): TypeMember[] {
    this.needComposite();
    return this.btf.members(this.base).map((m) => ({
      name: m.name,
      type: new KernelType(this.btf, m.type),
      offset: Math.floor(m.bitOffset / 8),
      bitOffset: m.bitOffset,
      bitSize: m.bitSize,
    }));
  }

  /** Member `path` ("comm", "se.vruntime"), looking through anonymous structs and unions. */
  member(path: string): TypeMember {
    const key = `${this.id}.${path}`;
    let byPath = MEMBERS.get(this.btf);
    if (!byPath) MEMBERS.set(this.btf, (byPath = new Map()));
    const hit = this.derived.length ? undefined : byPath.get(key);
    if (hit) return hit;
    this.needComposite();
    const f = this.btf.field(this.base, path);
    const m = { name: path.slice(path.lastIndexOf(".") + 1), type: new KernelType(this.btf, f.type), offset: f.offset, bitOffset: f.bitOffset, bitSize: f.bitSize };
    if (!this.derived.length) byPath.set(key, m);
    return m;
  }

  /** True when member `path` exists. */
  has(path: string): boolean {
    if (this.kind !== "struct" && this.kind !== "union") return false;
    return this.btf.has(this.base, path);
  }

  /** The enumerators of an enum type. */
  enumerators(): { name: string; value: bigint }[] {
    return this.btf.enumerators(this.base);
  }

  toString(): string {
    return this.name;
  }

  private needComposite(): void {
    if (this.kind !== "struct" && this.kind !== "union") throw new UsageError(`${this.name} is not a struct or union`, { hint: "member() needs a struct or union (deref() a pointer first)" });
  }
}

/**
 * The type spelled `text`: "struct task_struct", "struct list_head *", "unsigned long", "u64", "char [16]".
 * UsageError when BTF has no such type.
 * @example parseType(btf, "struct task_struct *").target().name // "struct task_struct"
 */
export function parseType(btf: Btf, text: string): KernelType {
  const m = /^\s*(.*?)\s*((?:\*\s*)*)((?:\[\s*\d+\s*\]\s*)*)$/.exec(text)!;
  const derived: Derived[] = [];
  for (const _ of m[2]!.replace(/\s/g, "")) derived.push("*");
  for (const n of [...m[3]!.matchAll(/\d+/g)].reverse()) derived.push(Number(n[0]));
  let base = m[1]!.replace(/\s+/g, " ").replace(/^const |^volatile /g, "");
  const kw = /^(struct|union|enum) (\S+)$/.exec(base);
  let id: number | undefined;
  if (base === "void") id = 0;
  else if (kw) {
    const kinds: number[] = kw[1] === "enum" ? [BtfKind.ENUM, BtfKind.ENUM64] : [kw[1] === "struct" ? BtfKind.STRUCT : BtfKind.UNION];
    const ids = btf.find(kw[2]!).filter((i) => kinds.includes(btf.kind(i)));
    // Prefer the definition (with members) to an empty forward declaration.
    id = ids.find((i) => (btf.rawInfo(i) & 0xffff) > 0) ?? ids[0] ?? btf.find(kw[2]!, BtfKind.FWD)[0];
  } else {
    base = INT_ALIASES[base] ?? base;
    const ids = btf.find(base);
    id = ids.find((i) => btf.kind(i) === BtfKind.TYPEDEF) ?? ids.find((i) => btf.kind(i) === BtfKind.INT || btf.kind(i) === BtfKind.FLOAT);
  }
  if (id === undefined) throw new UsageError(`no type ${JSON.stringify(text.trim())} in the kernel's BTF`, { hint: "spell it as C does: struct task_struct, unsigned long, u64, struct list_head *" });
  return new KernelType(btf, id, derived);
}

/** C spelling of BTF type `id` with `derived` layers on top. */
function spell(btf: Btf, id: number, derived: readonly Derived[]): string {
  let s = baseSpelling(btf, id);
  let stars = "";
  let dims = "";
  for (const d of derived) {
    if (d === "*") stars += "*";
    else dims = `[${d}]` + dims;
  }
  if (stars) s += (s.endsWith("*") ? "" : " ") + stars;
  if (dims) s += " " + dims;
  return s;
}

function baseSpelling(btf: Btf, id: number, depth = 0): string {
  if (id === 0) return "void";
  if (depth > 16) return "?";
  const k = btf.kind(id);
  const name = btf.name(id);
  switch (k) {
    case BtfKind.STRUCT:
      return `struct ${name || "{...}"}`;
    case BtfKind.UNION:
      return `union ${name || "{...}"}`;
    case BtfKind.ENUM:
    case BtfKind.ENUM64:
      return `enum ${name || "{...}"}`;
    case BtfKind.FWD:
      return `${btf.rawInfo(id) >>> 31 === 1 ? "union" : "struct"} ${name}`;
    case BtfKind.CONST:
      return `const ${baseSpelling(btf, btf.target(id), depth + 1)}`;
    case BtfKind.VOLATILE:
      return `volatile ${baseSpelling(btf, btf.target(id), depth + 1)}`;
    case BtfKind.RESTRICT:
    case BtfKind.TYPE_TAG:
      return baseSpelling(btf, btf.target(id), depth + 1);
    case BtfKind.PTR: {
      const t = btf.target(id);
      if (btf.kind(btf.resolve(t)) === BtfKind.FUNC_PROTO) return functionSpelling(btf, btf.resolve(t), "(*)", depth);
      const inner = baseSpelling(btf, t, depth + 1);
      return inner.endsWith("*") ? inner + "*" : inner + " *";
    }
    case BtfKind.ARRAY: {
      const a = btf.array(id);
      return `${baseSpelling(btf, a.type, depth + 1)} [${a.nelems}]`;
    }
    case BtfKind.FUNC_PROTO:
      return functionSpelling(btf, id, "", depth);
    default:
      return name;
  }
}

function functionSpelling(btf: Btf, proto: number, inner: string, depth: number): string {
  const ret = baseSpelling(btf, btf.target(proto), depth + 1);
  const args = btf.params(proto).map((p) => (p.type === 0 ? "..." : baseSpelling(btf, p.type, depth + 1)));
  return `${ret} ${inner}(${args.join(", ") || "void"})`;
}
