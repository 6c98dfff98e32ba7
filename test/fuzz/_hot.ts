// The kernel-table bytes each analyze command actually used, per base: the commands run in this process on the
// clean base with the dump's physical reads recorded, and with the kallsyms and BTF lookups recorded at the level of
// the entries they touched (a symbol's name and offset, a type's record, a member, a string), since those tables are
// read in bulk. The records inside the kallsyms, BTF and ORC tables are mapped to file ranges of the base; the
// fuzzer aims most mutations of those structures at them, so that a case changes what the analyzer does.
import { openDump } from "../../lib/dump/open.ts";
import { AnalyzeContext, runCommand } from "../../lib/analyze/command.ts";
import { Btf } from "../../lib/kernel/btf.ts";
import { Kallsyms } from "../../lib/kernel/kallsyms.ts";
import { OrcFinder } from "../../lib/arch/x86_64/orc.ts";
import { kallsymsAddrs } from "../../lib/kernel/system_map.ts";
import { kernelTables, physMapper, type Range, type Structure } from "./_regions.ts";

/** Per structure and command: the file ranges of the entries it used, one range per entry (not merged). */
export type Hot = Partial<Record<Structure, Record<string, Range[]>>>;

/** Physical reads longer than this are bulk reads of a whole table: the entries used within are recorded instead. */
const BULK = 4096;
/** ORC reads longer than this are the slice of orc_unwind_ip a search reads at once: its probes are recorded instead. */
const ORC_BULK = 64;

/** What the current traced command touched. */
interface Touched {
  /** Physical [start, end) of small reads. */
  phys: [bigint, bigint][];
  /** Byte ranges relative to the BTF blob. */
  btf: [number, number][];
  /** Byte ranges relative to kallsyms_names, and symbol indexes whose kallsyms_offsets entry was used. */
  names: [number, number][];
  symbols: number[];
}

let touched: Touched | undefined;

/** Wraps `proto[name]` to call `record(this, args)` first while a trace is on; returns the undo. */
function spy(proto: any, name: string, record: (self: any, args: any[]) => void): () => void {
  const orig = proto[name];
  proto[name] = function (this: any, ...args: any[]) {
    if (touched) record(this, args);
    return orig.apply(this, args);
  };
  return () => void (proto[name] = orig);
}

/** The BTF and kallsyms entry spies (prototype methods, private to TypeScript only). */
function installSpies(): () => void {
  const btfType = (self: any, id: number, at: number, n: number) => {
    if (id > 0 && id < self.count) {
      const o = self.typeStart + self.offsets[id] + at;
      touched!.btf.push([o, o + n]);
    }
  };
  const btfString = (self: any, off: number, n?: number) => {
    const p = self.strStart + off;
    if (p >= self.strEnd) return;
    let e = p;
    if (n === undefined) while (e < self.strEnd && self.bytes[e] !== 0) e++;
    else e = Math.min(p + n, self.strEnd - 1);
    touched!.btf.push([p, e + 1]);
  };
  const symbol = (self: any, i: number) => {
    if (i < 0 || i >= self.count) return;
    const n: Uint8Array = self.names;
    const p = self.nameAt[i];
    let len = n[p] ?? 0;
    const wide = len & 0x80 ? 2 : 1;
    if (wide === 2) len = (len & 0x7f) | ((n[p + 1] ?? 0) << 7);
    touched!.names.push([p, p + wide + len]);
    touched!.symbols.push(i);
  };
  const undo = [
    spy(Btf.prototype, "u32", (self, [id, at]) => btfType(self, id, at, 4)),
    spy(Btf.prototype, "str", (self, [off]) => btfString(self, off)),
    spy(Btf.prototype, "nameIs", (self, [off, name]) => btfString(self, off, name.length)),
    spy(Kallsyms.prototype, "expand", (self, [i]) => symbol(self, i)),
    spy(Kallsyms.prototype, "nameIs", (self, [i]) => symbol(self, i)),
    // the IP slots a binary search of orc_unwind_ip compares (it reads them as one slice): read again one by one,
    // so that the physical-read spy records each
    spy(OrcFinder.prototype, "search", (self, [t, first, stop, ip]) => {
      for (let lo = first, hi = stop - 1; lo <= hi; ) {
        const mid = lo + ((hi - lo) >> 1);
        const b: Uint8Array = self.mem.read(t.ip + BigInt(mid * 4), 4);
        if (t.ip + BigInt(mid * 4) + BigInt(new DataView(b.buffer, b.byteOffset, 4).getInt32(0, true)) <= ip) lo = mid + 1;
        else hi = mid - 1;
      }
    }),
  ];
  return () => undo.forEach((f) => f());
}

/**
 * Runs each of `commands` on the clean base `file` (made from `clean`, whose tables _regions.ts locates) and
 * returns the file ranges of the kallsyms, BTF and ORC entries each one used.
 */
export function hotRanges(file: string, clean: string, commands: Record<string, string[]>): Hot {
  let tables: ReturnType<typeof kernelTables>;
  try {
    tables = kernelTables(clean);
  } catch {
    // a kernel or machine kdump cannot read yet: no tables, nothing to aim at
    return {};
  }
  const inside = (s: Structure, a: bigint, b: bigint) => tables.some((t) => t.structure === s && a >= t.start && b <= t.end);
  const hot: Hot = {};
  const add = (s: Structure, cmd: string, rs: Range[]) => {
    const per = (hot[s] ??= {});
    per[cmd] = [...(per[cmd] ?? []), ...rs];
  };
  const map = physMapper(file);
  let names: { names: bigint; offsets: bigint } | undefined;
  const uninstall = installSpies();
  try {
    for (const [cmd, argv] of Object.entries(commands)) {
      const dump = openDump(file);
      const readPhys = dump.readPhys.bind(dump);
      dump.readPhys = (paddr, length, zeroFill) => {
        if (touched && length <= BULK) touched.phys.push([paddr, paddr + BigInt(length)]);
        return readPhys(paddr, length, zeroFill);
      };
      const t: Touched = (touched = { phys: [], btf: [], names: [], symbols: [] });
      const ctx = new AnalyzeContext(dump, { args: argv.slice(1) });
      try {
        runCommand(ctx, argv[0]!);
      } catch {
        // a clean run may fail for the command (e.g. no BTF): what it read until then still counts
      } finally {
        touched = undefined;
      }
      try {
        // the clean run of this command may have failed before it opened the kernel or its symbols: nothing to map then
        const seen = new Set<string>();
        const phys = (s: Structure, a: bigint, b: bigint) => {
          const key = `${s}:${a}:${b}`;
          if (seen.has(key) || !inside(s, a, b)) return;
          seen.add(key);
          add(s, cmd, map.toFile(a, b));
        };
        for (const [a, b] of t.phys) for (const s of ["kallsyms", "BTF", "ORC"] as Structure[]) if (s !== "ORC" || b - a <= ORC_BULK) phys(s, a, b);
        const k = ctx.kernel;
        const virt = (s: Structure, base: bigint, [a, b]: [number, number]) => {
          const p = k.translate(base + BigInt(a));
          phys(s, p, p + BigInt(b - a));
        };
        if (t.btf.length) {
          const start = ctx.program.symbols.lookup("__start_BTF");
          if (start !== undefined) {
            virt("BTF", start, [0, 24]);
            for (const r of t.btf) virt("BTF", start, r);
          }
        }
        if (t.names.length) {
          const a = (names ??= kallsymsAddrs(k).candidates[0]!);
          for (const r of t.names) virt("kallsyms", a.names, r);
          for (const i of new Set(t.symbols)) virt("kallsyms", a.offsets, [i * 4, i * 4 + 4]);
        }
      } catch {
        // see above
      } finally {
        dump.close();
      }
    }
  } finally {
    uninstall();
    map.close();
  }
  return hot;
}
