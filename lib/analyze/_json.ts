// Typed kernel values as --json prints them: integers as numbers (decimal strings past 2^53), pointers and
// addresses as 0x hex strings, char arrays as strings, structs as objects, enums by name.
import type { KernelObject } from "../kernel/object.ts";

/** The JSON form of `o`'s value. */
export function objectJson(o: KernelObject, depth = 0): unknown {
  const t = o.type;
  switch (t.kind) {
    case "pointer":
      return "0x" + o.integer().toString(16).padStart(16, "0");
    case "int":
    case "bool":
    case "enum": {
      const v = o.integer();
      if (t.kind === "bool") return v !== 0n;
      if (t.kind === "enum") return t.enumerators().find((e) => e.value === v)?.name ?? Number(v);
      return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
    }
    case "float":
      return o.value();
    case "array":
      if (t.element().isChar) return o.string();
      return Array.from({ length: Math.min(t.length, 4096) }, (_, i) => objectJson(o.index(i), depth + 1));
    case "struct":
    case "union": {
      if (depth > 8) return null;
      const out: Record<string, unknown> = {};
      for (const m of t.members()) {
        if (m.name) out[m.name] = objectJson(o.member(m.name), depth + 1);
        else Object.assign(out, objectJson(o.at(m.offset, m.type), depth + 1));
      }
      return out;
    }
    default:
      return null;
  }
}
