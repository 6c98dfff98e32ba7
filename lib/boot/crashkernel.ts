// The crashkernel= parameter as a typed value: parse and print every form the kernel accepts (size[@offset],
// range lists start-[end]:size,...[@offset], size,high / size,low, and size,cma from 6.16; and RHEL 8's legacy
// `auto`, read so setup can replace it) and resolve it against a RAM size the way kernel/crash_reserve.c
// (crash_core.c before 6.9) does.
import { ConfigSyntaxError } from "./parse_error.ts";

/** One `start-[end]:size` entry of a range list. */
export interface CrashRange {
  /** First RAM size (bytes) the entry applies to. */
  start: number;
  /** RAM size (bytes) where it stops applying (exclusive), or null for "and above". */
  end: number | null;
  /** Bytes to reserve when RAM is in [start, end). */
  size: number;
}

/** One crashkernel= word of a command line. */
export type CrashkernelArg =
  /** crashkernel=256M or crashkernel=256M@16M */
  | { kind: "size"; size: number; offset: bigint | null }
  /** crashkernel=2G-64G:256M,64G-:512M[@offset] */
  | { kind: "ranges"; ranges: CrashRange[]; offset: bigint | null }
  /** crashkernel=1G,high: above 4 GiB (with a low part for DMA) */
  | { kind: "high"; size: number }
  /** crashkernel=256M,low: the low part that goes with ,high */
  | { kind: "low"; size: number }
  /** crashkernel=256M,cma: extra capture memory lent to CMA while not needed (6.16+) */
  | { kind: "cma"; size: number }
  /** crashkernel=auto: RHEL 7/8 kernels' own table; RHEL 9 and upstream kernels reserve nothing for it */
  | { kind: "auto" };

/** Where a value came from, for error messages. Columns are 1-based. */
export interface TextPosition {
  /** File name or "crashkernel=" for a bare value. */
  source: string;
  /** Line of the value's first character. */
  line: number;
  /** Column of the value's first character. */
  column: number;
}

const SHIFT: Record<string, number> = { k: 10, m: 20, g: 30, t: 40, p: 50, e: 60 };
const BARE: TextPosition = { source: "crashkernel=", line: 1, column: 1 };

/**
 * Reads a memory size at `at` the way the kernel's memparse() does: a number in C notation (0x hex, leading 0
 * octal, else decimal) and an optional K/M/G/T/P/E suffix, either case. Returns null when no digit is there.
 * @example parseSize("256M") // { value: 268435456, end: 4 }
 */
export function parseSize(text: string, at = 0): { value: number; end: number } | null {
  const m = /^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)([kKmMgGtTpPeE]?)/.exec(text.slice(at));
  if (!m) return null;
  const digits = m[1]!;
  const base = /^0[xX]/.test(digits) ? 16 : digits.length > 1 && digits[0] === "0" ? 8 : 10;
  let value = Number.parseInt(base === 16 ? digits.slice(2) : digits, base);
  if (m[2]) value *= 2 ** SHIFT[m[2].toLowerCase()]!;
  return { value, end: at + m[0].length };
}

/**
 * A byte count in the largest unit that divides it exactly, as crashkernel= values are written.
 * @example formatSize(268435456) // "256M"
 */
export function formatSize(bytes: number): string {
  for (const [unit, shift] of [["E", 60], ["P", 50], ["T", 40], ["G", 30], ["M", 20], ["K", 10]] as const) {
    const n = bytes / 2 ** shift;
    if (bytes > 0 && Number.isInteger(n)) return `${n}${unit}`;
  }
  return String(bytes);
}

/**
 * Parses the value of one crashkernel= word (without the `crashkernel=` prefix). Stricter than the kernel,
 * which ignores trailing text in places: anything it would not use is an error naming its column.
 * @example parseCrashkernel("2G-64G:256M,64G-:512M").kind // "ranges"
 */
export function parseCrashkernel(value: string, pos: TextPosition = BARE): CrashkernelArg {
  const fail = (i: number, what: string): never => {
    throw new ConfigSyntaxError(pos.source, pos.line, pos.column + i, `crashkernel=${value}: ${what}`, {
      hint: "write crashkernel=SIZE, SIZE@OFFSET, START-[END]:SIZE,...[@OFFSET] or SIZE,high|low|cma (e.g. 256M)",
    });
  };
  const size = (i: number): { value: number; end: number } => parseSize(value, i) ?? fail(i, "a size (like 256M) expected");
  const endOfValue = (i: number) => i === value.length || fail(i, `unexpected "${value[i]}"`);
  if (value === "") fail(0, "empty value");
  if (value === "auto") return { kind: "auto" };

  const suffix = /,(high|low|cma)$/.exec(value);
  if (suffix) {
    const s = size(0);
    if (s.end !== suffix.index) fail(s.end, `unexpected "${value[s.end]}" before ,${suffix[1]}`);
    return { kind: suffix[1] as "high" | "low" | "cma", size: s.value };
  }

  if (!value.includes(":")) {
    const s = size(0);
    let offset: bigint | null = null;
    if (value[s.end] === "@") {
      const o = size(s.end + 1);
      offset = BigInt(o.value);
      endOfValue(o.end);
    } else endOfValue(s.end);
    return { kind: "size", size: s.value, offset };
  }

  const ranges: CrashRange[] = [];
  let i = 0;
  for (;;) {
    const start = size(i);
    i = start.end;
    if (value[i] !== "-") fail(i, '"-" expected after the range start');
    i++;
    let end: number | null = null;
    if (value[i] !== ":") {
      const e = size(i);
      if (e.value <= start.value) fail(i, "range end is not above its start");
      end = e.value;
      i = e.end;
    }
    if (value[i] !== ":") fail(i, '":" expected after the range');
    const s = size(i + 1);
    ranges.push({ start: start.value, end, size: s.value });
    i = s.end;
    if (value[i] !== ",") break;
    i++;
  }
  let offset: bigint | null = null;
  if (value[i] === "@") {
    const o = size(i + 1);
    offset = BigInt(o.value);
    i = o.end;
  }
  endOfValue(i);
  return { kind: "ranges", ranges, offset };
}

/**
 * The value of a crashkernel= word for an argument (without the `crashkernel=` prefix).
 * @example formatCrashkernel({ kind: "high", size: 2 ** 30 }) // "1G,high"
 */
export function formatCrashkernel(arg: CrashkernelArg): string {
  const at = (o: bigint | null) => (o === null ? "" : `@${formatSize(Number(o))}`);
  switch (arg.kind) {
    case "size":
      return `${formatSize(arg.size)}${at(arg.offset)}`;
    case "ranges":
      return arg.ranges.map((r) => `${formatSize(r.start)}-${r.end === null ? "" : formatSize(r.end)}:${formatSize(r.size)}`).join(",") + at(arg.offset);
    case "auto":
      return "auto";
    default:
      return `${formatSize(arg.size)},${arg.kind}`;
  }
}

/** A crashkernel= word found on a command line, with where it is. */
export interface CrashkernelWord {
  /** The parsed value. */
  arg: CrashkernelArg;
  /** Offset of the word's first character ("c") in the command line. */
  start: number;
  /** Offset just past the word. */
  end: number;
}

/**
 * Every crashkernel= word of a kernel command line, in order, parsed. The kernel searches the whole line
 * (init's arguments after "--" too), so this does as well.
 */
export function crashkernelWords(cmdline: string, pos: TextPosition = { source: "command line", line: 1, column: 1 }): CrashkernelWord[] {
  const out: CrashkernelWord[] = [];
  for (const m of cmdline.matchAll(/(?<=^|[ \t\n\v\f\r])crashkernel=([^ \t\n\v\f\r]*)/g)) {
    const valueAt = m.index! + "crashkernel=".length;
    out.push({ arg: parseCrashkernel(m[1]!, { ...pos, column: pos.column + valueAt }), start: m.index!, end: m.index! + m[0].length });
  }
  return out;
}

/**
 * A command line whose crashkernel= words are replaced by `args`: the first one's place takes them, the others
 * go, and without any they are appended (an empty `args` removes them). Other words and spacing stay as they were,
 * so replacing a value by itself changes nothing. Blanks are the kernel's isspace() (not \s: bytes 0x85 and 0xa0
 * are not blanks); with `continuation`, a backslash-newline (inside a shell's double quotes) counts as a blank too.
 * Linear in the length of the line.
 * @example withCrashkernel("ro crashkernel=128M quiet", [parseCrashkernel("256M")]) // "ro crashkernel=256M quiet"
 */
export function withCrashkernel(cmdline: string, args: CrashkernelArg[], continuation = false): string {
  const added = args.map((a) => `crashkernel=${formatCrashkernel(a)}`).join(" ");
  const parts = cmdline.split(continuation ? /((?:[ \t\n\v\f\r]|\\\n)+)/ : /([ \t\n\v\f\r]+)/); // word, blanks, word, ...
  let first = 0;
  let last = parts.length - 1;
  const lead = parts.length > 1 && parts[0] === "" ? parts[1]! : "";
  if (lead) first = 2;
  const trail = last > first && parts[last] === "" ? parts[last - 1]! : "";
  if (trail) last -= 2;
  if (first > last || (first === last && parts[first] === "")) return added || cmdline;
  const out: string[] = [];
  let placed = false;
  let kept = -1; // index in parts of the last word kept
  // In shell double quotes a word ending in an odd run of backslashes escapes what follows: keep its own blank after it.
  const escapes = (i: number) => continuation && i >= 0 && /(^|[^\\])(\\\\)*\\$/.test(parts[i]!);
  for (let i = first; i <= last; i += 2) {
    let w = parts[i]!;
    if (w.startsWith("crashkernel=")) {
      if (placed || !added) continue;
      placed = true;
      w = added;
    }
    if (out.length) out.push(escapes(kept) ? parts[kept + 1]! : parts[i - 1]!);
    out.push(w);
    kept = i;
  }
  if (!placed && added) out.push(out.length ? " " : "", added);
  else if (kept >= 0 && kept < last && escapes(kept)) out.push(parts[kept + 1]!);
  return lead + out.join("") + trail;
}

/** What the kernel reserves for a set of crashkernel= words on a machine with a given RAM size. */
export interface Reservation {
  /** Bytes reserved for the capture kernel; 0 when the kernel reserves nothing. */
  size: number;
  /** Fixed physical base from @offset, or null when the kernel chooses. */
  base: bigint | null;
  /** True for size,high: the region sits above 4 GiB with a separate low part. */
  high: boolean;
  /** Bytes of size,low, or null when the kernel uses its own default low size (only meaningful with high). */
  low: number | null;
  /** Bytes of size,cma (6.16+), 0 when none. */
  cma: number;
  /** Index of the matching range in a range list, or null. */
  range: number | null;
  /** Why nothing is reserved (the kernel's own warning), or null when size > 0. */
  problem: string | null;
}

const SZ_128M = 128 * 2 ** 20;

/**
 * Resolves crashkernel= words against `systemRam` bytes (the sum of System RAM) like parse_crashkernel():
 * the last plain or range word wins; without one, the last ,high (with the last ,low); ranges match RAM
 * rounded up to 128 MiB with start <= RAM < end; a size of RAM or more reserves nothing.
 */
export function resolveCrashkernel(args: CrashkernelArg[], systemRam: number): Reservation {
  const r: Reservation = { size: 0, base: null, high: false, low: null, cma: 0, range: null, problem: null };
  const last = <K extends CrashkernelArg["kind"]>(...kinds: K[]) =>
    args.filter((a): a is Extract<CrashkernelArg, { kind: K }> => (kinds as string[]).includes(a.kind)).at(-1);
  const cma = last("cma");
  if (cma) r.cma = cma.size;
  const main = last("size", "ranges");
  if (last("auto") && !main && !last("high"))
    return { ...r, problem: "crashkernel=auto is RHEL 7/8 kernels' own table; other kernels reserve nothing for it: give a size (kdump setup replaces it)" };
  if (main?.kind === "size") {
    r.size = main.size;
    r.base = main.offset;
  } else if (main?.kind === "ranges") {
    const total = Math.ceil(systemRam / SZ_128M) * SZ_128M;
    for (const [i, g] of main.ranges.entries()) {
      if (g.size >= total) return { ...r, problem: `range ${i + 1} asks for ${formatSize(g.size)}, not less than the ${formatSize(total)} of RAM (the kernel rejects the whole list)` };
      if (total >= g.start && (g.end === null || total < g.end)) {
        r.size = g.size;
        r.range = i;
        break;
      }
    }
    if (r.range === null) return { ...r, problem: `no range covers ${formatSize(total)} of RAM (rounded up to 128M): nothing is reserved` };
    r.base = main.offset;
  } else {
    const high = last("high");
    if (!high) return { ...r, problem: "no crashkernel= size on the command line" };
    r.size = high.size;
    r.high = true;
    r.low = last("low")?.size ?? null;
  }
  if (r.size === 0) return { ...r, problem: "the size is zero: nothing is reserved" };
  if (r.size >= systemRam) return { ...r, size: 0, problem: `${formatSize(r.size)} is not less than the RAM (${formatSize(systemRam)}): nothing is reserved` };
  return r;
}
