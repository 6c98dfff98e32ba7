// ORC unwind tables as the kernel keeps them in memory (and in a vmlinux's .orc_unwind_ip/.orc_unwind sections):
// s32 self-relative IPs, 6-byte orc_entry records and the orc_lookup index. The entry layouts of 4.14–6.2, 6.3,
// 6.4–7.0 and 7.1+ (registers renumbered) are upgraded to the 6.4 one while parsing (as drgn does), so the unwinder
// handles one layout only. The release picks the layout; the table's own function-entry records must agree.
import type { KernelView } from "../../kernel/view.ts";
import { BadDataError, MissingDataError } from "../../errors.ts";

/** Frame types, numbered as since 6.4 (fb799447ae29 "x86,objtool: Split UNWIND_HINT_EMPTY in two"). */
export const OrcType = { UNDEFINED: 0, END_OF_STACK: 1, CALL: 2, REGS: 3, REGS_PARTIAL: 4 } as const;

/** Base registers, numbered as in arch/x86/include/asm/orc_types.h of 4.14–7.0 (AX, new in 7.1, gets 10 here). */
export const OrcReg = { UNDEFINED: 0, PREV_SP: 1, DX: 2, DI: 3, BP: 4, SP: 5, R10: 6, R13: 7, BP_INDIRECT: 8, SP_INDIRECT: 9, AX: 10 } as const;

/**
 * 7.1+ register numbers (UNDEFINED 0, AX 1, DX 2, SP 3, BP 4, DI 5, R10 6, R13 7, PREV_SP 8, SP_INDIRECT 9,
 * BP_INDIRECT 10; read from Debian's linux-headers-7.2 orc_types.h) mapped to OrcReg's; 11–15 stay undefined (0).
 */
const REG_FROM_7_1 = [0, OrcReg.AX, OrcReg.DX, OrcReg.SP, OrcReg.BP, OrcReg.DI, OrcReg.R10, OrcReg.R13, OrcReg.PREV_SP, OrcReg.SP_INDIRECT, OrcReg.BP_INDIRECT, 0, 0, 0, 0, 0];

/**
 * The on-disk orc_entry layouts: "4.14" (type bits 8–9 CALL 0/REGS 1/REGS_PARTIAL 2, end bit 10), "6.3" (signal bit
 * 10, end bit 11; ffb1b4a41016 "x86/unwind/orc: Add 'signal' field to ORC metadata"), "6.4" (type bits 8–10, signal
 * bit 11), "7.1" (the 6.4 bits with the registers renumbered: SP 3, DI 5, PREV_SP 8, BP_INDIRECT 10, AX 1).
 */
export type OrcLayout = "4.14" | "6.3" | "6.4" | "7.1";

/** One orc_entry, upgraded to the 6.4 layout. */
export interface OrcEntry {
  /** Offset from the base register to the previous frame's SP (the CFA). */
  spOffset: number;
  /** Offset from its base register to where the caller's BP is saved. */
  bpOffset: number;
  /** Base register of spOffset (OrcReg). */
  spReg: number;
  /** Base register of bpOffset (OrcReg). */
  bpReg: number;
  /** Frame type (OrcType). */
  type: number;
  /** True when the frame was interrupted (not a call): look up the IP itself, not IP - 1, in the next frame. */
  signal: boolean;
}

/** Where one ORC table lies in kernel memory (the kernel's, or one module's). */
export interface OrcTable {
  /** Address of the first s32 of orc_unwind_ip (each IP is its slot's address plus the value). */
  ip: bigint;
  /** Address of the first 6-byte orc_entry. */
  unwind: bigint;
  /** Number of entries. */
  count: number;
}

/** The kernel's orc_lookup index over [_stext, _etext): per 256-byte block, the first table index to search. */
export interface OrcLookup {
  /** Address of orc_lookup (u32 per block). */
  table: bigint;
  /** _stext (LOOKUP_START_IP). */
  start: bigint;
  /** _etext (LOOKUP_STOP_IP). */
  stop: bigint;
}

/** A table covering [start, end) of module text. */
export interface OrcModuleTable extends OrcTable {
  /** First address of the module's memory. */
  start: bigint;
  /** One past its last address. */
  end: bigint;
}

/** The orc_entry layout of a kernel release ("6.1.0-56-cloud-amd64" → "4.14", "7.2.13+deb14-cloud-amd64" → "7.1"). */
export function orcLayoutFor(release: string): OrcLayout {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) throw new MissingDataError(`ORC: cannot tell the kernel version from release "${release}"`);
  const v = Number(m[1]) * 1000 + Number(m[2]);
  if (v < 4014) throw new MissingDataError(`ORC: kernel ${release} predates ORC (4.14)`, { hint: "frame pointers are used instead" });
  return v < 6003 ? "4.14" : v < 6004 ? "6.3" : v < 7001 ? "6.4" : "7.1";
}

/**
 * The raw flags of a function's first instruction (CFA = SP + 8, BP unchanged: sp_reg SP, type CALL) in each
 * layout family. They are most of a kernel's entries, so a table says which family wrote it.
 */
const ENTRY_FLAGS: Record<number, OrcLayout[]> = { 0x005: ["4.14", "6.3"], 0x205: ["6.4"], 0x203: ["7.1"] };

/**
 * Checks the release's layout against `entries` (raw 6-byte orc_entry records from the table's start): the most
 * common flags of sp_offset 8, bp_offset 0 records must be that layout family's function entry. BadDataError when
 * they are another family's (a vendor backport: kdump does not guess) or no family's.
 */
export function checkOrcLayout(entries: Uint8Array, layout: OrcLayout, release: string): OrcLayout {
  const dv = new DataView(entries.buffer, entries.byteOffset, entries.byteLength);
  const tally = new Map<number, number>();
  let calls = 0;
  for (let at = 0; at + 6 <= entries.byteLength; at += 6) {
    if (dv.getInt16(at, true) !== 8 || dv.getInt16(at + 2, true) !== 0) continue;
    const f = dv.getUint16(at + 4, true) & 0x7ff; // without 6.4's signal bit
    tally.set(f, (tally.get(f) ?? 0) + 1);
    calls++;
  }
  const [flags, n] = [...tally].sort((a, b) => b[1] - a[1])[0] ?? [0, 0];
  const family = ENTRY_FLAGS[flags];
  if (calls < 16 || n * 2 < calls || !family)
    throw new BadDataError(`ORC: the entries of ${release} match no known orc_entry layout (${calls} function entries, the commonest flags 0x${flags.toString(16)})`, {
      hint: "kdump knows the layouts of 4.14 to 7.x; please report this kernel",
    });
  if (!family.includes(layout))
    throw new BadDataError(`ORC: ${release} implies the ${layout} orc_entry layout, but its entries are in the ${family.join("/")} one (function entries read flags 0x${flags.toString(16)})`, {
      hint: "a vendor kernel that backported an ORC change: kdump will not guess; please report it",
    });
  return layout;
}

/** Decodes the orc_entry at byte `at` of `bytes` from `layout` into the 6.4 layout. */
export function decodeOrcEntry(bytes: Uint8Array, at: number, layout: OrcLayout): OrcEntry {
  // struct orc_entry { s16 sp_offset; s16 bp_offset; unsigned sp_reg:4, bp_reg:4, type:2|3, ... } __packed;
  const dv = new DataView(bytes.buffer, bytes.byteOffset + at, 6);
  const flags = dv.getUint16(4, true);
  const spReg = flags & 0xf;
  const e: OrcEntry = { spOffset: dv.getInt16(0, true), bpOffset: dv.getInt16(2, true), spReg, bpReg: (flags >> 4) & 0xf, type: 0, signal: false };
  if (layout === "6.4" || layout === "7.1") {
    e.type = (flags >> 8) & 7;
    e.signal = ((flags >> 11) & 1) === 1;
    if (layout === "7.1") {
      e.spReg = REG_FROM_7_1[e.spReg]!;
      e.bpReg = REG_FROM_7_1[e.bpReg]!;
    }
    return e;
  }
  const old = (flags >> 8) & 3;
  const end = (flags >> (layout === "6.3" ? 11 : 10)) & 1;
  if (spReg === OrcReg.UNDEFINED) e.type = end ? OrcType.END_OF_STACK : OrcType.UNDEFINED;
  else e.type = [OrcType.CALL, OrcType.REGS, OrcType.REGS_PARTIAL, OrcType.UNDEFINED][old]!;
  // Before 6.3 every REGS/REGS_PARTIAL frame was an interrupted one.
  e.signal = layout === "6.3" ? ((flags >> 10) & 1) === 1 : e.type === OrcType.REGS || e.type === OrcType.REGS_PARTIAL;
  return e;
}

/** Finds the ORC entry for an instruction address, in the kernel's table or a module's. */
export class OrcFinder {
  /** Module tables, added by the module reader. */
  readonly modules: OrcModuleTable[] = [];
  private coreFirst?: bigint;
  private coreLast?: bigint;

  constructor(
    private readonly mem: Pick<KernelView, "read">,
    readonly layout: OrcLayout,
    readonly core: OrcTable,
    private readonly lookup?: OrcLookup,
  ) {}

  /**
   * The entry covering `ip` (the last one whose IP is ≤ ip), or undefined when no table covers it.
   * @example finder.find(0xffffffff81000000n)?.type === OrcType.CALL
   */
  find(ip: bigint): OrcEntry | undefined {
    if (ip === 0n) return undefined;
    const l = this.lookup;
    if (l && ip >= l.start && ip < l.stop) {
      // orc_lookup[(ip - _stext) / 256] .. orc_lookup[... + 1] + 1 bounds the search (LOOKUP_BLOCK_ORDER 8).
      const idx = Number((ip - l.start) >> 8n);
      const b = this.mem.read(l.table + BigInt(idx * 4), 8);
      const dv = new DataView(b.buffer, b.byteOffset, 8);
      const first = dv.getUint32(0, true);
      const stop = dv.getUint32(4, true) + 1;
      if (first >= this.core.count || stop > this.core.count || stop <= first) return undefined;
      return this.search(this.core, first, stop, ip);
    }
    for (const m of this.modules) if (ip >= m.start && ip < m.end) return this.search(m, 0, m.count, ip);
    if (this.core.count === 0) return undefined;
    this.coreFirst ??= this.ipAt(this.core, 0);
    this.coreLast ??= this.ipAt(this.core, this.core.count - 1);
    if (ip < this.coreFirst || ip > this.coreLast) return undefined;
    return this.search(this.core, 0, this.core.count, ip);
  }

  /** Binary search of table entries [first, stop) for the last IP ≤ ip. */
  private search(t: OrcTable, first: number, stop: number, ip: bigint): OrcEntry | undefined {
    const n = stop - first;
    if (n <= 0) return undefined;
    const small = n <= 1024 ? this.mem.read(t.ip + BigInt(first * 4), n * 4) : undefined;
    const at = (i: number): bigint => {
      if (!small) return this.ipAt(t, i);
      const v = new DataView(small.buffer, small.byteOffset + (i - first) * 4, 4).getInt32(0, true);
      return t.ip + BigInt(i * 4) + BigInt(v);
    };
    let lo = first;
    let hi = stop - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = lo + ((hi - lo) >> 1);
      if (at(mid) <= ip) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (found < 0) return undefined;
    return decodeOrcEntry(this.mem.read(t.unwind + BigInt(found * 6), 6), 0, this.layout);
  }

  private ipAt(t: OrcTable, i: number): bigint {
    const b = this.mem.read(t.ip + BigInt(i * 4), 4);
    return t.ip + BigInt(i * 4) + BigInt(new DataView(b.buffer, b.byteOffset, 4).getInt32(0, true));
  }
}
