// `whatis`: a type's declaration (`whatis struct list_head`, `whatis u64`), a function's prototype (BTF FUNC
// records), or a variable's type with where it came from (BTF for per-CPU variables, else the well-known table).
import { UsageError } from "../errors.ts";
import { BtfKind } from "../kernel/btf.ts";
import type { Kernel } from "../kernel/kernel.ts";
import { KernelType } from "../kernel/types.ts";
import type { AnalyzeCommand } from "./command.ts";
import { declaration, declare } from "./gdb_print.ts";
import { typedKernel } from "./_typed.ts";

/** What `whatis --json` says about a name. */
export interface WhatisResult {
  /** What was asked. */
  name: string;
  /** "type", "function" or "variable". */
  kind: "type" | "function" | "variable";
  /** The C declaration. */
  declaration: string;
  /** Size in bytes of a type or variable. */
  size?: number;
  /** Where a variable's type came from: "btf" or "well-known". */
  typeSource?: string;
}

/**
 * What `name` is in the kernel.
 * @example whatis(k, "struct list_head").size // 16
 */
export function whatis(k: Kernel, name: string): WhatisResult {
  const btf = k.program.btf;
  if (/^(struct|union|enum) /.test(name) || (btf.find(name).some((id) => btf.kind(id) === BtfKind.TYPEDEF || btf.kind(id) === BtfKind.INT) && k.program.symbols.lookup(name) === undefined)) {
    const t = k.type(name);
    const u = t.unqualified();
    let decl: string;
    if (u.kind === "struct" || u.kind === "union") decl = (t.name === u.name ? "" : `typedef `) + declaration(u) + (t.name === u.name ? "" : ` ${t.name};`);
    else if (u.kind === "enum") decl = `${u.name} {\n${u.enumerators().map((e) => `    ${e.name} = ${e.value}`).join(",\n")}\n};`;
    else decl = t.name === u.name ? `${t.name};` : `typedef ${u.name} ${t.name};`;
    return { name, kind: "type", declaration: decl, size: t.size };
  }
  const fn = btf.find(name, BtfKind.FUNC)[0];
  if (fn !== undefined) {
    const proto = btf.target(fn);
    const params = btf.params(proto).map((p) => (p.type === 0 ? "..." : declare(typeFor(k, p.type), p.name).trim()));
    const ret = typeFor(k, btf.target(proto));
    return { name, kind: "function", declaration: `${declare(ret, name + "(" + (params.join(", ") || "void") + ")")};` };
  }
  const source = k.varTypeSource(name);
  if (source) {
    const t = source === "btf" ? k.perCpu(name, 0).type : k.var(name).type;
    return { name, kind: "variable", declaration: `${declare(t, name)};`, size: t.size, typeSource: source };
  }
  if (k.program.symbols.lookup(name) !== undefined)
    throw new UsageError(`whatis: ${name} is a kernel symbol, but the kernel's BTF gives no type for it`, { hint: "BTF types only functions and per-CPU variables; read it with rd, or p with a type from the well-known table" });
  throw new UsageError(`whatis: no type or symbol ${name} in the kernel's BTF or kallsyms`);
}

function typeFor(k: Kernel, id: number): KernelType {
  return new KernelType(k.program.btf, id);
}

/** `kdump analyze VMCORE whatis NAME`. */
export const whatisCommand: AnalyzeCommand = {
  describe: "whatis struct NAME|TYPE|FUNCTION|VARIABLE: a type's declaration, a function's prototype, a variable's type",
  run: (ctx) => {
    const name = (ctx.opts.args ?? []).join(" ").trim();
    if (!name) throw new UsageError("whatis needs a type or symbol", { hint: "whatis struct list_head, whatis schedule, whatis jiffies" });
    const r = whatis(typedKernel(ctx), name);
    return { data: r, text: r.declaration + (r.kind === "type" && r.size !== undefined && /[{]/.test(r.declaration) ? `\nSIZE: ${r.size}` : "") + "\n" };
  },
};
