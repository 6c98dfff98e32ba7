// `p`: a kernel variable printed as crash prints it through gdb (`jiffies = $1 = 4294898887`), with `.member`,
// `->member` and `[index]` after the symbol; per-CPU variables list their per-CPU addresses, as crash does.
import { UsageError } from "../errors.ts";
import type { Kernel } from "../kernel/kernel.ts";
import type { KernelObject } from "../kernel/object.ts";
import type { AnalyzeCommand } from "./command.ts";
import { formatValue, type Symbolizer } from "./gdb_print.ts";
import { objectJson } from "./_json.ts";
import { hex16, hexJson, parseFlags, typedKernel } from "./_typed.ts";

/**
 * The object an expression names: a symbol, then `.member`, `->member` or `[index]` steps.
 * @example evaluate(k, "init_task.comm").string() // "swapper/0"
 */
export function evaluate(k: Kernel, expr: string): KernelObject {
  const m = /^\s*([A-Za-z_][\w]*)(.*)$/.exec(expr);
  if (!m) throw new UsageError(`cannot parse expression ${JSON.stringify(expr)}`, { hint: "give SYMBOL, SYMBOL.member, SYMBOL->member or SYMBOL[N]" });
  let o = k.var(m[1]!);
  let rest = m[2]!.trim();
  while (rest) {
    const step = /^(?:(\.|->)\s*([A-Za-z_]\w*)|\[\s*(\d+)\s*\])\s*/.exec(rest);
    if (!step) throw new UsageError(`cannot parse ${JSON.stringify(rest)} in ${JSON.stringify(expr)}`, { hint: "only .member, ->member and [N] follow a symbol" });
    o = step[3] !== undefined ? o.index(Number(step[3])) : o.member(step[2]!);
    rest = rest.slice(step[0].length);
  }
  return o;
}

/** `kdump analyze VMCORE p SYMBOL[.member…]`. */
export const printCommand: AnalyzeCommand = {
  describe: "p SYMBOL[.member|->member|[N]…] [-x]: a kernel variable's value (types from BTF or the well-known table)",
  run: (ctx) => {
    const { flags, rest } = parseFlags(ctx.opts.args ?? []);
    const expr = rest.join(" ");
    if (!expr) throw new UsageError("p needs a symbol", { hint: "p jiffies, p init_task.comm" });
    const k = typedKernel(ctx);
    const sym: Symbolizer = (a) => k.program.symbols.symbolize(a);
    const bare = /^\s*[A-Za-z_]\w*\s*$/.test(expr);
    const name = expr.trim();
    if (bare && k.varTypeSource(name) === "btf") {
      const t = k.perCpu(name, 0).type;
      const addrs = Array.from({ length: k.nrCpus }, (_, cpu) => k.perCpu(name, cpu).address!);
      const text = `PER-CPU DATA TYPE:\n  ${t.name} ${name};\nPER-CPU ADDRESSES:\n${addrs.map((a, i) => `  [${i}]: ${hex16(a)}\n`).join("")}`;
      return { data: { symbol: name, type: t.name, typeSource: "btf", perCpu: addrs.map(hexJson) }, text };
    }
    const o = evaluate(k, expr);
    let value = formatValue(o, sym);
    if (flags.has("x") && (o.type.kind === "int" || o.type.kind === "enum")) value = "0x" + BigInt.asUintN(o.type.size * 8, o.integer()).toString(16);
    // gdb breaks the line before an array or struct printed after "name = $1 = " (not before a string).
    const multi = (o.type.kind === "array" && !o.type.element().isChar) || o.type.kind === "struct" || o.type.kind === "union";
    const text = bare ? `${name} = $1 = ${multi ? "\n " : ""}${value}\n` : `$1 = ${value}\n`;
    return { data: { expression: expr, type: o.type.name, typeSource: o.typeSource, address: o.address === undefined ? null : hexJson(o.address), value: objectJson(o) }, text };
  },
};
