// `list`: the entries of a linked list as crash walks it: from a structure whose `next` pointer sits at an offset
// (`-o OFFSET` or `struct.member`), or from a standalone list_head (`-H`); each entry's address, and with
// `-s struct[.member,…]` the struct printed. Ends at NULL, at the start, or at `-e END`.
import { BadDataError, UsageError } from "../errors.ts";
import type { Kernel } from "../kernel/kernel.ts";
import type { AnalyzeCommand } from "./command.ts";
import type { Symbolizer } from "./gdb_print.ts";
import { formatStruct, structAt } from "./struct.ts";
import { objectJson } from "./_json.ts";
import { hex16, hexJson, parseAddress, parseFlags, typedKernel } from "./_typed.ts";

/** How to walk a list. */
export interface ListOptions {
  /** Offset of the next pointer in each entry. */
  offset: number;
  /** True when `start` is a standalone list head, not an entry. */
  head: boolean;
  /** An address that ends the list besides NULL and the start. */
  end?: bigint;
  /** At most this many entries. */
  limit?: number;
}

/**
 * The entry addresses of the list at `start`, as crash's `list` prints them.
 * @example listWalk(k, k.symbol("modules"), { offset: 8, head: true })
 */
export function listWalk(k: Kernel, start: bigint, o: ListOptions): bigint[] {
  const off = BigInt(o.offset);
  const out: bigint[] = [];
  const limit = o.limit ?? 1 << 20;
  const first = o.head ? start : start + off;
  if (!o.head) out.push(start);
  for (let p = k.view.u64(first); p !== 0n && p !== first && p !== start && p !== o.end; p = k.view.u64(p)) {
    if (out.length >= limit) throw new BadDataError(`list at ${hex16(start)} does not end after ${limit} entries`, { hint: "give -e END, or check the offset" });
    if (!o.head && p - off === start) break;
    out.push(p - off);
  }
  return out;
}

/** `kdump analyze VMCORE list [-o OFFSET|struct.member] [-s struct[.member,…]] [-H|-h] [-e END] START`. */
export const listCommand: AnalyzeCommand = {
  describe: "list [-o OFF|struct.member] [-s struct[.m,…]] [-H] [-e END] START: the entries of a linked list",
  run: (ctx) => {
    const { flags, rest } = parseFlags(ctx.opts.args ?? [], ["o", "s", "e", "l"]);
    const k = typedKernel(ctx);
    const sym: Symbolizer = (a) => k.program.symbols.symbolize(a);
    let offsetSpec = flags.get("o");
    let startText: string | undefined;
    for (const r of rest) {
      if (offsetSpec === undefined && /^[A-Za-z_]\w*\.[\w.]+$/.test(r) && !k.program.symbols.lookup(r)) offsetSpec = r;
      else if (startText === undefined) startText = r;
      else if (offsetSpec === undefined) {
        offsetSpec = startText;
        startText = r;
      }
    }
    if (!startText) throw new UsageError("list needs a start address or symbol", { hint: "list -H modules, list task_struct.tasks -s task_struct.pid init_task" });
    let offset = 0;
    if (offsetSpec !== undefined) {
      const dot = offsetSpec.indexOf(".");
      offset = dot > 0 ? k.type(`struct ${offsetSpec.slice(0, dot)}`).member(offsetSpec.slice(dot + 1)).offset : Number(offsetSpec);
      if (!Number.isInteger(offset)) throw new UsageError(`list: offset ${offsetSpec} is neither a number nor struct.member`);
    }
    const end = flags.has("e") ? parseAddress(k, flags.get("e")!) : undefined;
    const entries = listWalk(k, parseAddress(k, startText), { offset, head: flags.has("H"), end });
    const spec = flags.get("s");
    if (!spec) return { data: entries.map(hexJson), text: entries.map((e) => hex16(e) + "\n").join("") };
    const data: { address: string; members: unknown }[] = [];
    let text = "";
    for (const e of entries) {
      const { objects, members, type } = structAt(k, spec, e);
      const o = objects[0]!;
      text += `${hex16(e)}\n${formatStruct(o, members, sym)}`;
      const names = members ?? type.members().map((m) => m.name).filter(Boolean);
      data.push({ address: hexJson(e), members: Object.fromEntries(names.map((m) => [m, objectJson(o.member(m))])) });
    }
    return { data, text };
  },
};
