// `sym`: a kernel symbol's address and nm type (`sym jiffies`), or the symbol an address lies in with its offset
// (`sym ffffffff81234567`), from the dump's kallsyms (the kernel's own symbols; modules' are not searched).
import { UsageError } from "../errors.ts";
import type { AnalyzeCommand } from "./command.ts";
import { hexJson, parseAddress, typedKernel } from "./_typed.ts";

/** One answer of `sym --json`. */
export interface SymResult {
  /** The address asked for, or the symbol's address. */
  address: string;
  /** nm type letter (T, t, D, d, B, b, R, r, A). */
  type: string;
  /** Symbol name. */
  name: string;
  /** Bytes from the symbol's start (0 for a name). */
  offset: number;
}

/** `kdump analyze VMCORE sym NAME|ADDR…`. */
export const symCommand: AnalyzeCommand = {
  describe: "sym NAME|ADDR…: a symbol's address and type, or the symbol+offset an address lies in",
  run: (ctx) => {
    const args = ctx.opts.args ?? [];
    if (!args.length) throw new UsageError("sym needs a symbol name or an address", { hint: "sym jiffies, sym ffffffff81000000" });
    const k = typedKernel(ctx);
    const s = k.program.symbols;
    const out: SymResult[] = [];
    for (const a of args) {
      const byName = s.lookup(a);
      const addr = byName ?? parseAddress(k, a);
      const hit = s.symbolize(addr);
      if (!hit || (byName === undefined && hit.size && hit.offset >= hit.size)) throw new UsageError(`sym: no symbol at ${a}`, { hint: "the address is not in the kernel image" });
      out.push({ address: hexJson(addr), type: hit.type, name: byName !== undefined ? a : hit.name, offset: byName !== undefined ? 0 : hit.offset });
    }
    const text = out.map((r) => `${r.address.slice(2)} (${r.type}) ${r.name}${r.offset ? "+" + r.offset : ""}\n`).join("");
    return { data: out, text };
  },
};
