// VMCOREINFO, the kernel's `KEY=value` note about itself (crash_core.c and arch code, 2.6.24+): release, page
// size, KASLR offset, and SYMBOL/SIZE/OFFSET/NUMBER/LENGTH of what dump tools need, parsed into typed fields.
import { BadDataError, MissingDataError } from "../errors.ts";

/** Parsed VMCOREINFO. Lookups of a missing key throw MissingDataError naming the key. */
export class Vmcoreinfo {
  /** OSRELEASE: the kernel release (uname -r). */
  readonly osrelease: string;
  /** BUILD-ID (hex) of vmlinux, 5.9+, or null. */
  readonly buildId: string | null;
  /** PAGESIZE in bytes. */
  readonly pageSize: number;
  /** KERNELOFFSET: the KASLR slide (hex in the note), 0 when absent. SYMBOL() values already include it. */
  readonly kernelOffset: bigint;
  /** CRASHTIME: seconds since the epoch when the kernel crashed, or null. */
  readonly crashTime: number | null;
  /** SYMBOL(name)=hex: runtime virtual addresses. */
  readonly symbols = new Map<string, bigint>();
  /** SIZE(struct)=decimal. */
  readonly sizes = new Map<string, number>();
  /** OFFSET(struct.member)=decimal. */
  readonly offsets = new Map<string, number>();
  /** NUMBER(name)=signed decimal (NUMBER(phys_base) is negative when the kernel sits below its link address). */
  readonly numbers = new Map<string, bigint>();
  /** LENGTH(name)=decimal (array lengths). */
  readonly lengths = new Map<string, number>();
  /** Every line, key → value text, in the note's order. */
  readonly raw = new Map<string, string>();

  /**
   * Parses the note's text.
   * @example new Vmcoreinfo("OSRELEASE=6.1.0\nPAGESIZE=4096\nSYMBOL(prb)=ffffffff8a2b3c40\n").symbol("prb")
   */
  constructor(text: string) {
    for (const line of text.split("\n")) {
      const eq = line.indexOf("=");
      if (eq <= 0) continue;
      const key = line.slice(0, eq);
      const value = line.slice(eq + 1).trim();
      this.raw.set(key, value);
      const m = /^(SYMBOL|SIZE|OFFSET|NUMBER|LENGTH)\((.+)\)$/.exec(key);
      if (!m) continue;
      const [, kind, name] = m as unknown as [string, string, string];
      if (kind === "SYMBOL") this.symbols.set(name, parseHex(key, value));
      else if (kind === "NUMBER") this.numbers.set(name, parseSigned(key, value));
      else this[kind === "SIZE" ? "sizes" : kind === "OFFSET" ? "offsets" : "lengths"].set(name, Number(parseSigned(key, value)));
    }
    const rel = this.raw.get("OSRELEASE");
    if (rel === undefined) throw new MissingDataError("VMCOREINFO has no OSRELEASE", { hint: "the note is damaged or not VMCOREINFO" });
    this.osrelease = rel;
    this.buildId = this.raw.get("BUILD-ID") ?? null;
    this.pageSize = Number(parseSigned("PAGESIZE", this.raw.get("PAGESIZE") ?? "4096"));
    this.kernelOffset = this.raw.has("KERNELOFFSET") ? parseHex("KERNELOFFSET", this.raw.get("KERNELOFFSET")!) : 0n;
    this.crashTime = this.raw.has("CRASHTIME") ? Number(parseSigned("CRASHTIME", this.raw.get("CRASHTIME")!)) : null;
  }

  /** SYMBOL(name). */
  symbol(name: string): bigint {
    return need(this.symbols.get(name), `SYMBOL(${name})`);
  }
  /** SIZE(name). */
  size(name: string): number {
    return need(this.sizes.get(name), `SIZE(${name})`);
  }
  /** OFFSET(name), e.g. offset("printk_info.ts_nsec"). */
  offset(name: string): number {
    return need(this.offsets.get(name), `OFFSET(${name})`);
  }
  /** NUMBER(name). */
  number(name: string): bigint {
    return need(this.numbers.get(name), `NUMBER(${name})`);
  }
  /** LENGTH(name). */
  length(name: string): number {
    return need(this.lengths.get(name), `LENGTH(${name})`);
  }
}

function need<T>(v: T | undefined, key: string): T {
  if (v === undefined) throw new MissingDataError(`VMCOREINFO has no ${key}`, { hint: "this kernel does not export it; a newer kernel may" });
  return v;
}

function parseHex(key: string, v: string): bigint {
  if (!/^(0x)?[0-9a-fA-F]+$/.test(v)) throw new BadDataError(`VMCOREINFO ${key}=${JSON.stringify(v)} is not hexadecimal`);
  return BigInt(v.startsWith("0x") ? v : `0x${v}`);
}

function parseSigned(key: string, v: string): bigint {
  if (/^-?\d+$/.test(v)) return BigInt(v);
  if (/^0x[0-9a-fA-F]+$/.test(v)) return BigInt(v);
  throw new BadDataError(`VMCOREINFO ${key}=${JSON.stringify(v)} is not a number`);
}
