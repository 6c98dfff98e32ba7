// What the data commands share: the typed Kernel of an analyze context (built once per context), crash's ways of
// naming an address (hex with or without 0x, a symbol, symbol+offset), and option scanning of crash's arguments.
import { UsageError } from "../errors.ts";
import { Kernel } from "../kernel/kernel.ts";
import type { AnalyzeContext } from "./command.ts";

const KERNELS = new WeakMap<AnalyzeContext, Kernel>();

/** The typed kernel of `ctx`, sharing its program (symbols, BTF). */
export function typedKernel(ctx: AnalyzeContext): Kernel {
  let k = KERNELS.get(ctx);
  if (!k) KERNELS.set(ctx, (k = new Kernel(ctx.program)));
  return k;
}

/**
 * The address `text` names: hex digits (crash reads them as hex, 0x optional), a symbol, or symbol+offset (the
 * offset hex with 0x, else decimal). A symbol wins over a short all-hex word such as "add".
 */
export function parseAddress(k: Kernel, text: string): bigint {
  const t = text.trim();
  if (/^(0x)?[0-9a-f]+$/i.test(t) && (t.startsWith("0x") || /[0-9]/.test(t[0]!) || t.length >= 8)) return BigInt(t.startsWith("0x") ? t : "0x" + t);
  const m = /^([A-Za-z_.$][\w.$]*)(?:\+(0x[0-9a-f]+|\d+))?$/i.exec(t);
  if (m) {
    const addr = k.program.symbols.lookup(m[1]!);
    if (addr !== undefined) return addr + (m[2] ? BigInt(m[2]) : 0n);
  }
  throw new UsageError(`${JSON.stringify(text)} is not an address or a kernel symbol`, { hint: "give a hex address (ffff888003a4c000) or a symbol name (init_task)" });
}

/** True when `text` looks like an address or a symbol that exists. */
export function isAddress(k: Kernel, text: string): boolean {
  try {
    parseAddress(k, text);
    return true;
  } catch {
    return false;
  }
}

/** Splits crash-style arguments into flags (`-x`, `-64`, and `-o VALUE` for flags in `withValue`) and the rest. */
export function parseFlags(args: string[], withValue: string[] = []): { flags: Map<string, string>; rest: string[] } {
  const flags = new Map<string, string>();
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (/^-[A-Za-z0-9]+$/.test(a)) {
      const name = a.slice(1);
      if (withValue.includes(name)) {
        if (i + 1 >= args.length) throw new UsageError(`${a} needs a value`);
        flags.set(name, args[++i]!);
      } else if (/^\d+$/.test(name)) flags.set(name, "");
      else for (const c of name) flags.set(c, "");
    } else rest.push(a);
  }
  return { flags, rest };
}

/** An address as crash prints it: 16 hex digits, no 0x. */
export const hex16 = (v: bigint): string => (v & 0xffffffffffffffffn).toString(16).padStart(16, "0");

/** An address as --json prints it: 0x and 16 hex digits. */
export const hexJson = (v: bigint): string => "0x" + hex16(v);
