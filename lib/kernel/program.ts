// A crashed kernel as the analysis asks about it: its memory (KernelView) plus what the dump says about itself
// without debuginfo: symbols (kallsyms), types (BTF between __start_BTF and __stop_BTF) and the ORC tables, each
// read on first use and kept. Typed field reads by struct and member name go through BTF.
import { BadDataError, KdumpError, MissingDataError } from "../errors.ts";
import { Btf } from "./btf.ts";
import { kallsymsAddrs } from "./system_map.ts";
import { Kallsyms, readKallsymsTables } from "./kallsyms.ts";
import { checkOrcLayout, OrcFinder, orcLayoutFor } from "../arch/x86_64/orc.ts";
import { KERNEL_IMAGE_END, START_KERNEL_MAP } from "../arch/x86_64/pagetable.ts";
import type { KernelView } from "./view.ts";

/** How to open a kernel's symbols. */
export interface ProgramOptions {
  /** A System.map to locate kallsyms with when VMCOREINFO does not (checked against the dump; refused if it differs). */
  systemMap?: string;
}

/** Symbols, types and unwind tables of the kernel in one dump. */
export class KernelProgram {
  private ks?: Kallsyms;
  private types?: Btf;
  private finder?: OrcFinder;
  private readonly offsets = new Map<string, number>();
  /**
   * Why a table could not be read, kept: a caller that goes on (one CPU after another) gets the same error again
   * without reading the table again (a BTF that does not parse is megabytes of pages to decompress per try).
   */
  private readonly failed = new Map<string, unknown>();

  constructor(
    readonly view: KernelView,
    readonly opts: ProgramOptions = {},
  ) {}

  /** The kernel's kallsyms, read from the dump. */
  get symbols(): Kallsyms {
    if (!this.ks) this.ks = this.once("symbols", () => this.readSymbols());
    return this.ks;
  }

  private readSymbols(): Kallsyms {
    let ks: Kallsyms | undefined;
    const read = (a: bigint, n: number) => this.readBulk(a, n);
    const where = kallsymsAddrs(this.view, this.opts.systemMap, read);
    const stext = this.stext(where.stext);
    let first: unknown;
    for (const addrs of where.candidates) {
      try {
        ks = structure(`the kallsyms tables at ${hex(addrs.names)}`, () => new Kallsyms(readKallsymsTables({ read }, addrs), stext));
        break;
      } catch (e) {
        if (!(e instanceof KdumpError)) throw e;
        first ??= e;
      }
    }
    if (!ks) throw first;
    if (where.given) ks.fallback = where.given;
    return ks;
  }

  /** `build()`'s value, or the error it threw the first time for `what` (thrown again, not retried). */
  private once<T>(what: string, build: () => T): T {
    if (this.failed.has(what)) throw this.failed.get(what);
    try {
      return build();
    } catch (e) {
      this.failed.set(what, e);
      throw e;
    }
  }

  /** The kernel's BTF, read from memory between __start_BTF and __stop_BTF. */
  get btf(): Btf {
    if (!this.types) this.types = this.once("btf", () => this.readBtf());
    return this.types;
  }

  private readBtf(): Btf {
    const start = this.symbols.lookup("__start_BTF");
    const stop = this.symbols.lookup("__stop_BTF");
    if (start === undefined || stop === undefined || stop <= start)
      throw new MissingDataError("the kernel has no BTF (no __start_BTF/__stop_BTF)", {
        hint: "it was built without CONFIG_DEBUG_INFO_BTF; task and module walks need it",
      });
    return structure(`the BTF at ${hex(start)}`, () => new Btf(this.readBulk(start, Number(stop - start))));
  }

  /** The kernel's ORC tables (modules' tables are added by readModules()). */
  get orc(): OrcFinder {
    if (!this.finder) this.finder = this.once("orc", () => this.readOrc());
    return this.finder;
  }

  private readOrc(): OrcFinder {
    const s = this.symbols;
    const ip = s.require("__start_orc_unwind_ip");
    const count = Number(s.require("__stop_orc_unwind_ip") - ip) / 4;
    const table = s.lookup("orc_lookup");
    const lookup = table !== undefined ? { table, start: s.require("_stext"), stop: s.require("_etext") } : undefined;
    const unwind = s.require("__start_orc_unwind");
    const release = this.view.info.osrelease;
    const layout = checkOrcLayout(this.readBulk(unwind, Math.min(count, 8192) * 6), orcLayoutFor(release), release);
    return new OrcFinder(this.view, layout, { ip, unwind, count }, lookup);
  }

  /**
   * `length` bytes at `vaddr`; a range inside the kernel image (physically contiguous from phys_base) is read with
   * one physical read instead of page by page.
   */
  readBulk(vaddr: bigint, length: number): Uint8Array {
    const end = vaddr + BigInt(length);
    if (vaddr >= START_KERNEL_MAP && end <= KERNEL_IMAGE_END) return this.view.dump.readPhys(this.view.translate(vaddr), length);
    return this.view.read(vaddr, length);
  }

  /** Byte offset of `path` in `struct` (BTF), cached. */
  off(struct: string, path: string): number {
    const key = `${struct}.${path}`;
    let o = this.offsets.get(key);
    if (o === undefined) this.offsets.set(key, (o = this.btf.offsetof(struct, path)));
    return o;
  }

  /** The u64 (pointer, long) member `path` of the `struct` at `addr`. */
  u64(addr: bigint, struct: string, path: string): bigint {
    return this.view.u64(addr + BigInt(this.off(struct, path)));
  }

  /** The u32 member `path` of the `struct` at `addr`. */
  u32(addr: bigint, struct: string, path: string): number {
    return this.view.u32(addr + BigInt(this.off(struct, path)));
  }

  /** The s32 member `path` of the `struct` at `addr`. */
  s32(addr: bigint, struct: string, path: string): number {
    return this.view.s32(addr + BigInt(this.off(struct, path)));
  }

  /** The char array member `path` of the `struct` at `addr`, up to its NUL. */
  str(addr: bigint, struct: string, path: string, max: number): string {
    return this.view.cstring(addr + BigInt(this.off(struct, path)), max);
  }

  /** Address of a kernel symbol; MissingDataError when it has none. */
  sym(name: string): bigint {
    return this.symbols.require(name);
  }

  /** SYMBOL(_stext) from VMCOREINFO, else the System.map's relocated value. */
  private stext(fromMap?: bigint): bigint {
    const v = this.view.info.symbols.get("_stext") ?? fromMap;
    if (v === undefined) throw new MissingDataError("VMCOREINFO has no SYMBOL(_stext) to check kallsyms against", { hint: "give the kernel's System.map with --system-map" });
    return v;
  }
}

function hex(a: bigint): string {
  return `0x${a.toString(16).padStart(16, "0")}`;
}

/**
 * Builds a structure from dump bytes; a DataView or array read past its end (RangeError, TypeError) means the
 * structure's sizes or offsets make no sense: a BadDataError naming `what` (and its address) instead.
 */
function structure<T>(what: string, build: () => T): T {
  try {
    return build();
  } catch (e) {
    if (!(e instanceof RangeError || e instanceof TypeError)) throw e;
    throw new BadDataError(`${what}: a field lies outside the bytes that hold it`, {
      hint: "the dump is corrupted or from an unsupported kernel: try another dump of this crash, or --system-map with the kernel's System.map",
    });
  }
}
