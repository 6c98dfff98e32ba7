// Typed kernel objects printed as crash prints them through gdb: `member = value,` lines, nested braces, char
// arrays as C strings (crash sets gdb's repeat_count_threshold to 0x7fffffff, so runs are never folded into
// `<repeats N times>`), pointers in hex with `<symbol+offset>` when they
// point into the kernel image, enums by name. Also C declarations for `whatis`.
import type { SymbolHit } from "../kernel/kallsyms.ts";
import type { KernelObject } from "../kernel/object.ts";
import type { KernelType } from "../kernel/types.ts";

/** Finds the symbol an address lies in (kallsyms), for `<sym+off>` after pointers. */
export type Symbolizer = (addr: bigint) => SymbolHit | undefined;

/** gdb's repeat_count_threshold and print elements limit as crash sets them (gdb_interface.c). */
const REPEATS = 0x7fffffff;
const ELEMENTS = 256;

/** The kernel image and modules lie above this; direct-map and vmalloc pointers get no symbol. */
const KERNEL_IMAGE = 0xffffffff80000000n;

/**
 * The value of `obj` as gdb prints it, nested lines indented by `indent` spaces per level.
 * @example formatValue(k.var("init_task").member("comm"), sym) // "\"swapper/0\\000\\000\\000\\000\\000\\000\""
 */
export function formatValue(obj: KernelObject, sym: Symbolizer, depth = 1): string {
  const t = obj.type;
  switch (t.kind) {
    case "int":
      if (t.isChar) return charLiteral(obj.integer());
      return obj.integer().toString();
    case "bool":
      return obj.integer() ? "true" : "false";
    case "enum": {
      const v = obj.integer();
      return t.enumerators().find((e) => e.value === v)?.name ?? v.toString();
    }
    case "float":
      return String(obj.value());
    case "pointer":
      return pointer(obj.integer(), sym);
    case "array":
      return t.element().isChar ? charArray(obj.bytes()) : array(obj, sym, depth);
    case "struct":
    case "union":
      return "{\n" + membersText(obj, sym, depth) + " ".repeat((depth - 1) * 2) + "}";
    default:
      return "<function>";
  }
}

/** The member lines of a struct or union at `depth`, each `name = value` and all but the last with a comma. */
export function membersText(obj: KernelObject, sym: Symbolizer, depth: number): string {
  const pad = " ".repeat(depth * 2);
  const lines: string[] = [];
  for (const m of obj.type.members()) {
    const child = m.name ? obj.member(m.name) : obj.at(m.offset, m.type);
    lines.push(`${pad}${m.name ? m.name + " = " : ""}${formatValue(child, sym, depth + 1)}`);
  }
  return lines.map((l, i) => (i < lines.length - 1 ? l + ",\n" : l + "\n")).join("");
}

/** A pointer as gdb prints it: 0x0, or hex with <symbol+offset> when it points into the kernel image. */
export function pointer(v: bigint, sym: Symbolizer): string {
  if (v === 0n) return "0x0";
  const hex = "0x" + v.toString(16);
  if (v < KERNEL_IMAGE) return hex;
  const hit = sym(v);
  if (!hit || (hit.size && hit.offset >= hit.size)) return hex;
  return `${hex} <${hit.name}${hit.offset ? "+" + hit.offset : ""}>`;
}

function array(obj: KernelObject, sym: Symbolizer, depth: number): string {
  const n = obj.type.length;
  const items: string[] = [];
  for (let i = 0; i < Math.min(n, ELEMENTS); i++) items.push(formatValue(obj.index(i), sym, depth + 1));
  const out: string[] = [];
  for (let i = 0; i < items.length; ) {
    let j = i;
    while (j < items.length && items[j] === items[i]) j++;
    if (j - i >= REPEATS) out.push(`${items[i]} <repeats ${j - i} times>`);
    else for (let x = i; x < j; x++) out.push(items[x]!);
    i = j;
  }
  return `{${out.join(", ")}${n > ELEMENTS ? "..." : ""}}`;
}

/** gdb's escape of one byte inside a string or char literal. */
function escape(b: number, quote: string): string {
  const named: Record<number, string> = { 7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r", 27: "\\033" };
  if (b === quote.charCodeAt(0) || b === 0x5c) return "\\" + String.fromCharCode(b);
  if (named[b]) return named[b]!;
  if (b < 0x20 || b >= 0x7f) return "\\" + b.toString(8).padStart(3, "0");
  return String.fromCharCode(b);
}

function charLiteral(v: bigint): string {
  const b = Number(v & 0xffn);
  return `${v} '${escape(b, "'")}'`;
}

/** A char array: gdb drops one trailing NUL (the terminator) and folds runs longer than REPEATS into repeats. */
export function charArray(bytes: Uint8Array): string {
  let end = bytes.length;
  if (end > 0 && bytes[end - 1] === 0) end--;
  // print null-stop is off, but gdb stops at the first NUL when everything after it is NUL too (print elements).
  const parts: string[] = [];
  let str = "";
  for (let i = 0; i < end; ) {
    let j = i;
    while (j < end && bytes[j] === bytes[i]) j++;
    if (j - i > REPEATS) {
      if (str) parts.push(`"${str}"`);
      str = "";
      parts.push(`'${escape(bytes[i]!, "'")}' <repeats ${j - i} times>`);
    } else for (let x = i; x < j; x++) str += escape(bytes[x]!, '"');
    i = j;
  }
  if (str || !parts.length) parts.push(`"${str}"`);
  return parts.join(", ");
}

/**
 * The C declaration of a struct or union with its members, as crash's `whatis` and `struct` without an address
 * print it (4-space indent, one member per line), then its size.
 */
export function declaration(t: KernelType, depth = 1): string {
  const pad = " ".repeat(depth * 4);
  const lines = [`${t.name} {`];
  for (const m of t.members()) {
    const mt = m.type.unqualified();
    const anon = (mt.kind === "struct" || mt.kind === "union") && /\{\.\.\.\}$/.test(mt.name);
    const body = anon ? declaration(mt, depth + 1).replace(/ \{\.\.\.\} \{/, " {") : declare(m.type, m.name);
    lines.push(`${pad}${body}${m.bitSize ? ` : ${m.bitSize}` : ""}${anon && m.name ? ` ${m.name}` : ""};`);
  }
  lines.push(" ".repeat((depth - 1) * 4) + "}");
  return lines.join("\n");
}

/** `type name` as C declares it: arrays and function pointers put the name inside. */
export function declare(t: KernelType, name: string): string {
  const s = t.name;
  const fp = s.indexOf("(*)");
  if (fp >= 0) return s.slice(0, fp) + `(*${name})` + s.slice(fp + 3);
  const arr = s.indexOf(" [");
  if (arr >= 0) return `${s.slice(0, arr)} ${name}${s.slice(arr + 1)}`;
  return s.endsWith("*") ? `${s}${name}` : `${s} ${name}`;
}
