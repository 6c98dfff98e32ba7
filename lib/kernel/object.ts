// A typed value of the crashed kernel, drgn's Object without debuginfo: a KernelType (from BTF) plus either an
// address in kernel memory (a reference, read on demand) or the bytes of a computed value (a pointer made by
// addressOf()). Members, pointers and arrays are followed by name and index; reads go through the KernelView.
import { UsageError } from "../errors.ts";
import { parseType, type KernelType } from "./types.ts";
import type { KernelView } from "./view.ts";

/**
 * Where an object's type came from: the kernel's BTF (members, per-CPU variables), the table of well-known
 * symbols (jiffies, init_task… have no BTF type), or a cast the caller gave.
 */
export type TypeSource = "btf" | "well-known" | "cast";

/** A JavaScript value for a kernel value: integers and pointers as bigint, floats as number, composites nested. */
export type KernelValue = bigint | number | boolean | KernelValue[] | { [member: string]: KernelValue };

/**
 * A typed value in the crashed kernel.
 * @example const t = k.var("init_task"); t.member("comm").string() // "swapper/0"
 */
export class KernelObject {
  constructor(
    readonly view: KernelView,
    readonly type: KernelType,
    /** Address of the value in kernel memory; undefined for a computed value. */
    readonly address: bigint | undefined,
    /** Where the type came from. */
    readonly typeSource: TypeSource = "btf",
    /** The bytes of a computed value, or the bit placement of a bitfield member. */
    private readonly extra: { bytes?: Uint8Array; bitOffset?: number; bitSize?: number } = {},
  ) {}

  /** The object's bytes (type.size of them). */
  bytes(): Uint8Array {
    if (this.extra.bytes) return this.extra.bytes;
    if (this.address === undefined) throw new UsageError("a computed value has no bytes");
    return this.view.read(this.address, this.type.size);
  }

  /**
   * The value: integers, enums and pointers as bigint (signed types sign-extended), bool as boolean, floats as
   * number, arrays as arrays and structs as objects by member name.
   * @example k.var("jiffies").value() // 4294953472n
   */
  value(): KernelValue {
    const t = this.type;
    switch (t.kind) {
      case "int":
      case "enum":
      case "pointer":
        return this.integer();
      case "bool":
        return this.integer() !== 0n;
      case "float": {
        const b = this.bytes();
        const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
        return t.size === 4 ? dv.getFloat32(0, true) : dv.getFloat64(0, true);
      }
      case "array": {
        const out: KernelValue[] = [];
        for (let i = 0; i < t.length; i++) out.push(this.index(i).value());
        return out;
      }
      case "struct":
      case "union": {
        const out: { [member: string]: KernelValue } = {};
        for (const m of t.members()) {
          const v = this.memberAt(m.type, m.offset, m.bitOffset, m.bitSize);
          if (m.name) out[m.name] = v.value();
          else Object.assign(out, v.value());
        }
        return out;
      }
      default:
        throw new UsageError(`a value of type ${t.name} cannot be read`, { hint: "cast it to an integer or struct type" });
    }
  }

  /** The value of an integer, enum, bool or pointer as a bigint. */
  integer(): bigint {
    const size = this.extra.bitSize ? 8 : this.type.size;
    if (size < 1 || size > 8) throw new UsageError(`${this.type.name} (${size} bytes) is not an integer`);
    const b = this.extra.bitSize && this.address !== undefined ? this.view.read(this.address, 8) : this.bytes();
    let v = 0n;
    for (let i = Math.min(size, b.length) - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    const bits = this.extra.bitSize ?? size * 8;
    if (this.extra.bitSize) v = (v >> BigInt(this.extra.bitOffset ?? 0)) & ((1n << BigInt(bits)) - 1n);
    if (this.type.signed && v >> BigInt(bits - 1)) v -= 1n << BigInt(bits);
    return v;
  }

  /** The value as a number (for counts and small integers; loses precision past 2^53). */
  number(): number {
    return Number(this.integer());
  }

  /**
   * A char array up to its first NUL, or the NUL-terminated string a char pointer points at (at most `max` bytes).
   * @example task.member("comm").string()
   */
  string(max = 4096): string {
    const t = this.type;
    if (t.kind === "array") {
      const b = this.bytes();
      const nul = b.indexOf(0);
      return new TextDecoder().decode(nul >= 0 ? b.subarray(0, nul) : b);
    }
    if (t.kind === "pointer") return this.view.cstring(this.integer(), max);
    throw new UsageError(`${t.name} is not a char array or pointer`, { hint: "string() reads char [N] and char *" });
  }

  /**
   * Member `path` of a struct or union ("comm", "se.vruntime"); on a pointer to a struct, of the struct it points
   * at (drgn's `ptr.member_`).
   * @example task.member("se.vruntime").value()
   */
  member(path: string): KernelObject {
    if (this.type.kind === "pointer") return this.deref().member(path);
    const m = this.type.member(path);
    return this.memberAt(m.type, m.offset, m.bitOffset, m.bitSize);
  }

  /** True when the struct (or the struct pointed at) has member `path`. */
  has(path: string): boolean {
    return (this.type.kind === "pointer" ? this.type.target() : this.type).has(path);
  }

  /**
   * The object a pointer points at.
   * @example k.var("init_task").member("parent").deref().member("pid").value()
   */
  deref(): KernelObject {
    if (this.type.kind !== "pointer") throw new UsageError(`cannot dereference ${this.type.name}: it is not a pointer`);
    return new KernelObject(this.view, this.type.target(), this.integer(), this.typeSource);
  }

  /**
   * Element `i` of an array, or of the array a pointer points at.
   * @example k.perCpu("runqueues", 0).member("cpu").value()
   */
  index(i: number): KernelObject {
    const el = this.type.element();
    const base = this.type.kind === "pointer" ? this.integer() : this.address;
    if (base === undefined) throw new UsageError("cannot index a computed array");
    return new KernelObject(this.view, el, base + BigInt(i * el.size), this.typeSource);
  }

  /** A pointer to this object (`&obj`). */
  addressOf(): KernelObject {
    if (this.address === undefined) throw new UsageError("a computed value has no address");
    return pointerValue(this.view, this.type.pointer(), this.address, this.typeSource);
  }

  /**
   * The same memory seen as `type` (a type or its C spelling); a pointer or integer cast to a pointer keeps its value.
   * @example k.object(0xffff888003a4c000n, "struct task_struct").member("pid").value()
   */
  cast(type: KernelType | string): KernelObject {
    const t = typeof type === "string" ? parseType(this.type.btf, type) : type;
    if (t.kind === "pointer" && (this.type.kind === "pointer" || this.type.kind === "int")) return pointerValue(this.view, t, this.integer(), "cast");
    if (this.address === undefined) throw new UsageError(`cannot view a computed ${this.type.name} as ${t.name}`);
    return new KernelObject(this.view, t, this.address, "cast");
  }

  /** The object of `type` at byte `offset` inside this one (an anonymous member, a raw field). */
  at(offset: number, type: KernelType): KernelObject {
    return this.memberAt(type, offset, offset * 8, 0);
  }

  /** True when a pointer is NULL. */
  isNull(): boolean {
    return this.integer() === 0n;
  }

  private memberAt(type: KernelType, offset: number, bitOffset: number, bitSize: number): KernelObject {
    if (this.address === undefined) {
      const b = this.bytes();
      return new KernelObject(this.view, type, undefined, this.typeSource, { bytes: b.subarray(offset, offset + type.size) });
    }
    const bits = bitSize ? { bitOffset: bitOffset - offset * 8, bitSize } : {};
    return new KernelObject(this.view, type, this.address + BigInt(offset), this.typeSource, bits);
  }
}

/** A computed pointer of `type` holding `value`. */
export function pointerValue(view: KernelView, type: KernelType, value: bigint, source: TypeSource = "btf"): KernelObject {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, value & 0xffffffffffffffffn, true);
  return new KernelObject(view, type, undefined, source, { bytes });
}

/**
 * The struct of `type` that embeds, as `member`, what `ptr` points at (the kernel's container_of()); `ptr` is a
 * pointer, or the embedded member itself.
 * @example containerOf(k.var("init_task").member("tasks.next"), "struct task_struct", "tasks").member("pid")
 */
export function containerOf(ptr: KernelObject, type: KernelType | string, member: string): KernelObject {
  const t = typeof type === "string" ? parseType(ptr.type.btf, type) : type;
  const addr = ptr.type.kind === "pointer" ? ptr.integer() : ptr.address;
  if (addr === undefined) throw new UsageError("containerOf() needs a pointer or an object in memory");
  return new KernelObject(ptr.view, t, addr - BigInt(t.member(member).offset), ptr.typeSource);
}
