// Loaded modules: the `modules` list of struct module, each one's memory (mem[] since 6.4's ac3b43283923
// "module: replace module_layout with module_memory", core_layout/init_layout before), its own symbols
// (module.kallsyms: symtab, strtab, num_symtab) and ORC table (module.arch), so frames show func+off [module].
import { BadDataError, KdumpError } from "../errors.ts";
import type { SymbolHit } from "./kallsyms.ts";
import { KERNEL_IMAGE_END } from "../arch/x86_64/pagetable.ts";
import type { KernelProgram } from "./program.ts";
import { listEntries } from "./tasks.ts";

/** A module's memory region. */
export interface ModuleRegion {
  /** First address. */
  start: bigint;
  /** One past the last address. */
  end: bigint;
  /** True for text (code). */
  text: boolean;
  /** True for memory freed after init (init text and data). */
  init: boolean;
}

/** One loaded module. */
export interface Module {
  /** Address of its struct module. */
  module: bigint;
  /** Module name. */
  name: string;
  /** module.state: 0 live, 1 coming (in its init), 2 going, 3 unformed. */
  state: number;
  /** Where its core memory starts (core_layout.base; mem[MOD_TEXT].base since 6.4), as crash's mod shows it. */
  base: bigint;
  /** Its core size in bytes (core_layout.size; the sum of the non-init mem[] sizes since 6.4). */
  size: number;
  /** All its memory, init included while it is still loading. */
  regions: ModuleRegion[];
  /** Its symbols (the full table during init, the core ones after). */
  symbols: ModuleSymbol[];
  /** Its ORC table, when it has one. */
  orc?: { ip: bigint; unwind: bigint; count: number };
}

/** A module symbol. */
export interface ModuleSymbol {
  /** Symbol name. */
  name: string;
  /** Its address. */
  address: bigint;
  /** nm type letter (from typetab, 5.2+; "t" otherwise). */
  type: string;
}

/** A symbolized address: the kernel's symbol or a module's. */
export interface AddressHit extends SymbolHit {
  /** The module it lies in, or undefined for the kernel. */
  module?: string;
}

// enum mod_mem_type (6.4+): MOD_TEXT, MOD_DATA, MOD_RODATA, MOD_RO_AFTER_INIT, MOD_INIT_TEXT, MOD_INIT_DATA, MOD_INIT_RODATA.
const MOD_MEM = ["MOD_TEXT", "MOD_DATA", "MOD_RODATA", "MOD_RO_AFTER_INIT", "MOD_INIT_TEXT", "MOD_INIT_DATA", "MOD_INIT_RODATA"];
const ELF64_SYM = 24; // Elf64_Sym { u32 st_name; u8 st_info; u8 st_other; u16 st_shndx; u64 st_value; u64 st_size; }

/**
 * The loaded modules in list order (newest first, as lsmod and crash list them), with their symbols read and their
 * ORC tables handed to prog.orc.
 * @example readModules(prog).map((m) => m.name)
 */
export function readModules(prog: KernelProgram): Module[] {
  const head = prog.sym("modules");
  const mods = listEntries(prog, head, "module", "list", 65536).map((m) => readModule(prog, m));
  // ORC is x86_64's: modules elsewhere (arm64) carry no tables, and the kernel none to hand them to
  if (!mods.some((m) => m.orc)) return mods;
  const orc = prog.orc;
  orc.modules.length = 0;
  for (const m of mods) {
    if (!m.orc || !m.regions.length) continue;
    const text = m.regions.filter((r) => r.text);
    const start = text.reduce((a, r) => (r.start < a ? r.start : a), text[0]?.start ?? m.base);
    const end = text.reduce((a, r) => (r.end > a ? r.end : a), text[0]?.end ?? m.base);
    orc.modules.push({ ...m.orc, start, end });
  }
  return mods;
}

/** One struct module. */
function readModule(prog: KernelProgram, mod: bigint): Module {
  const btf = prog.btf;
  const name = prog.str(mod, "module", "name", 56);
  const regions: ModuleRegion[] = [];
  let base: bigint;
  let size = 0;
  if (btf.has("module", "mem")) {
    const memOff = BigInt(prog.off("module", "mem"));
    const stride = BigInt(btf.sizeof("module_memory"));
    for (const t of MOD_MEM) {
      const i = btf.enumValue(t);
      if (i === undefined) continue;
      const m = mod + memOff + i * stride;
      const start = prog.u64(m, "module_memory", "base");
      const len = prog.u32(m, "module_memory", "size");
      const init = t.startsWith("MOD_INIT");
      if (!init) size += len;
      if (start && len) regions.push({ start, end: start + BigInt(len), text: t.endsWith("TEXT"), init });
    }
    base = prog.u64(mod + memOff, "module_memory", "base");
  } else {
    for (const [layout, init] of [["core_layout", false], ["init_layout", true]] as const) {
      const start = prog.u64(mod, "module", `${layout}.base`);
      const len = prog.u32(mod, "module", `${layout}.size`);
      const text = prog.u32(mod, "module", `${layout}.text_size`);
      if (start && text) regions.push({ start, end: start + BigInt(text), text: true, init });
      if (start && len > text) regions.push({ start: start + BigInt(text), end: start + BigInt(len), text: false, init });
    }
    base = prog.u64(mod, "module", "core_layout.base");
    size = prog.u32(mod, "module", "core_layout.size");
  }
  const count = btf.has("module", "arch.num_orcs") ? prog.u32(mod, "module", "arch.num_orcs") : 0;
  return {
    module: mod,
    name,
    state: prog.u32(mod, "module", "state"),
    base,
    size,
    regions,
    symbols: readModuleSymbols(prog, mod, name),
    orc: count ? { ip: prog.u64(mod, "module", "arch.orc_unwind_ip"), unwind: prog.u64(mod, "module", "arch.orc_unwind"), count } : undefined,
  };
}

/** The symbols of module.kallsyms (during init the full table, after it the core one), sorted by address. */
function readModuleSymbols(prog: KernelProgram, mod: bigint, name: string): ModuleSymbol[] {
  const ks = prog.u64(mod, "module", "kallsyms");
  if (!ks) return [];
  const symtab = prog.u64(ks, "mod_kallsyms", "symtab");
  const num = prog.u32(ks, "mod_kallsyms", "num_symtab");
  const strtab = prog.u64(ks, "mod_kallsyms", "strtab");
  const typetab = prog.btf.has("mod_kallsyms", "typetab") ? prog.u64(ks, "mod_kallsyms", "typetab") : 0n;
  if (num > 1 << 20) throw new BadDataError(`module ${name}: ${num} symbols is not a sane count`, { hint: "its struct module looks corrupted" });
  const syms = prog.view.read(symtab, num * ELF64_SYM);
  const types = typetab ? prog.view.read(typetab, num) : undefined;
  const dv = new DataView(syms.buffer, syms.byteOffset, syms.byteLength);
  // The string table's size is not recorded: read it once up to the last name's start plus a name's length.
  let last = 0;
  for (let i = 1; i < num; i++) last = Math.max(last, dv.getUint32(i * ELF64_SYM, true));
  let strings: Uint8Array;
  try {
    strings = prog.view.read(strtab, Math.min(last + 512, 1 << 24));
  } catch (e) {
    if (!(e instanceof KdumpError)) throw e;
    strings = prog.view.read(strtab, Math.min(last + 1, 1 << 24)); // the table ends its allocation
  }
  const dec = new TextDecoder();
  const nameAt = (off: number): string => {
    const end = strings.indexOf(0, off);
    return end >= 0 ? dec.decode(strings.subarray(off, end)) : prog.view.cstring(strtab + BigInt(off), 512);
  };
  const out: ModuleSymbol[] = [];
  for (let i = 1; i < num; i++) {
    const o = i * ELF64_SYM;
    if (dv.getUint16(o + 6, true) === 0) continue; // SHN_UNDEF
    const sname = nameAt(dv.getUint32(o, true));
    // Unnamed and mapping symbols ($x, $d) say nothing; the kernel skips them too.
    if (!sname || sname.startsWith("$")) continue;
    out.push({ name: sname, address: dv.getBigUint64(o + 8, true), type: types ? String.fromCharCode(types[i]!) : "t" });
  }
  return out.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
}

/** The module list, read on first need (only addresses in the module area need it). */
export type ModuleList = () => Module[];

/** MODULES_END on x86_64: the module area is [KERNEL_IMAGE_END, MODULES_END). */
const MODULES_END = 0xffffffffff000000n;

/** True for an address in the x86_64 module area, where only module code and data live. */
export function inModuleArea(addr: bigint): boolean {
  return addr >= KERNEL_IMAGE_END && addr < MODULES_END;
}

/**
 * The symbol containing `addr`: a module's (nearest symbol below it within the module's region) or the kernel's.
 * @example symbolizeAddress(prog, () => mods, rip) // { name: "oops_init", offset: 22, module: "oops", ... }
 */
export function symbolizeAddress(prog: KernelProgram, mods: ModuleList, addr: bigint): AddressHit | undefined {
  if (!inModuleArea(addr)) return prog.symbols.symbolize(addr);
  for (const m of mods()) {
    const region = m.regions.find((r) => addr >= r.start && addr < r.end);
    if (!region) continue;
    let best: ModuleSymbol | undefined;
    let next = region.end;
    for (const s of m.symbols) {
      if (s.address <= addr && s.address >= region.start && (!best || s.address > best.address)) best = s;
      if (s.address > addr && s.address < next) next = s.address;
    }
    if (!best) return { name: "", offset: Number(addr - region.start), size: 0, address: region.start, type: "?", module: m.name };
    return { name: best.name, offset: Number(addr - best.address), size: Number(next - best.address), address: best.address, type: best.type, module: m.name };
  }
  return prog.symbols.symbolize(addr);
}
