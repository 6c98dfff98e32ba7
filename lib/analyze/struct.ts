// `struct` and `union`: a struct at an address printed member by member (crash's `struct TYPE[.m1,m2] ADDR
// [COUNT]`), or without an address its declaration (`-o` with member offsets); types from the dump's BTF.
import { UsageError } from "../errors.ts";
import type { Kernel } from "../kernel/kernel.ts";
import type { KernelObject } from "../kernel/object.ts";
import type { KernelType } from "../kernel/types.ts";
import type { AnalyzeCommand } from "./command.ts";
import { declaration, declare, formatValue, type Symbolizer } from "./gdb_print.ts";
import { hexJson, parseAddress, parseFlags, typedKernel } from "./_typed.ts";
import { objectJson } from "./_json.ts";

/** One struct printed by `struct --json`. */
export interface StructDump {
  /** Its address (hex). */
  address: string;
  /** The C type. */
  type: string;
  /** Member values (all members, or those asked for): integers as numbers or decimal strings, pointers as hex. */
  members: Record<string, unknown>;
}

/**
 * The structs of `type` (with `.m1,m2` selecting members) at `addr`, `count` of them one after another.
 * @example structAt(k, "task_struct.pid,comm", k.symbol("init_task"))
 */
export function structAt(k: Kernel, spec: string, addr: bigint, count = 1, keyword = "struct"): { objects: KernelObject[]; members?: string[]; type: KernelType } {
  const dot = spec.indexOf(".");
  const name = dot < 0 ? spec : spec.slice(0, dot);
  const members = dot < 0 ? undefined : spec.slice(dot + 1).split(",").filter(Boolean);
  const type = k.type(`${keyword} ${name}`);
  for (const m of members ?? []) type.member(m);
  const objects: KernelObject[] = [];
  for (let i = 0; i < count; i++) objects.push(k.object(addr + BigInt(i * type.size), type));
  return { objects, members, type };
}

/** crash's text for one struct: the whole struct in braces, or the chosen members as `  name = value,` lines. */
export function formatStruct(o: KernelObject, members: string[] | undefined, sym: Symbolizer): string {
  if (!members) return `${o.type.name} ${formatValue(o, sym)}\n`;
  return members.map((m) => `  ${m.slice(m.lastIndexOf(".") + 1)} = ${formatValue(o.member(m), sym, 2)},\n`).join("");
}

/** The declaration with `-o`: each member prefixed by its offset in brackets, as crash prints it. */
function withOffsets(t: KernelType): string {
  const lines = [`${t.name} {`];
  for (const m of t.members()) lines.push(`  [${m.offset}] ${declare(m.type, m.name)}${m.bitSize ? ` : ${m.bitSize}` : ""};`);
  lines.push("}", `SIZE: ${t.size}`);
  return lines.join("\n") + "\n";
}

function makeCommand(keyword: "struct" | "union"): AnalyzeCommand {
  return {
    describe: `${keyword} TYPE[.member,…] [ADDR|SYMBOL] [COUNT] [-o]: a ${keyword} at an address, or its declaration`,
    run: (ctx) => {
      const { flags, rest } = parseFlags(ctx.opts.args ?? []);
      const [spec, where, countText] = rest;
      if (!spec) throw new UsageError(`${keyword} needs a type`, { hint: `${keyword} task_struct.pid,comm ffff888003a4c000` });
      const k = typedKernel(ctx);
      const sym: Symbolizer = (a) => k.program.symbols.symbolize(a);
      if (where === undefined) {
        const t = k.type(`${keyword} ${spec.split(".")[0]}`);
        const text = flags.has("o") ? withOffsets(t) : `${declaration(t)}\nSIZE: ${t.size}\n`;
        return { data: { type: t.name, size: t.size, members: t.members().map((m) => ({ name: m.name, type: m.type.name, offset: m.offset, bitSize: m.bitSize })) }, text };
      }
      const count = countText === undefined ? 1 : Number(countText);
      if (!Number.isInteger(count) || count < 1) throw new UsageError(`${keyword}: count ${countText} is not a positive number`);
      const { objects, members } = structAt(k, spec, parseAddress(k, where), count, keyword);
      const data: StructDump[] = objects.map((o) => ({
        address: hexJson(o.address!),
        type: o.type.name,
        members: Object.fromEntries((members ?? o.type.members().map((m) => m.name).filter(Boolean)).map((m) => [m, objectJson(o.member(m))])),
      }));
      return { data, text: objects.map((o) => formatStruct(o, members, sym)).join("") };
    },
  };
}

/** `kdump analyze VMCORE struct TYPE[.member,…] ADDR`. */
export const structCommand: AnalyzeCommand = makeCommand("struct");
/** `kdump analyze VMCORE union TYPE[.member,…] ADDR`. */
export const unionCommand: AnalyzeCommand = makeCommand("union");
