// `rd`: raw kernel memory as crash prints it: 16 bytes a line as 1-, 2-, 4- or 8-byte words (-8 -16 -32 -64,
// default 64), then the line's bytes as ASCII; the address a symbol or hex.
import { UsageError } from "../errors.ts";
import type { KernelView } from "../kernel/view.ts";
import type { AnalyzeCommand } from "./command.ts";
import { hex16, hexJson, parseAddress, parseFlags, typedKernel } from "./_typed.ts";

/**
 * `count` little-endian words of `size` bytes at `addr`.
 * @example readWords(view, k.symbol("jiffies"), 8, 1)[0]
 */
export function readWords(view: KernelView, addr: bigint, size: 1 | 2 | 4 | 8, count: number): bigint[] {
  const b = view.read(addr, size * count);
  const out: bigint[] = [];
  for (let i = 0; i < count; i++) {
    let v = 0n;
    for (let j = size - 1; j >= 0; j--) v = (v << 8n) | BigInt(b[i * size + j]!);
    out.push(v);
  }
  return out;
}

/** crash's rd text for `words` of `size` bytes read at `addr`. */
export function formatRd(addr: bigint, size: number, words: bigint[]): string {
  const perLine = 16 / size;
  const lines: string[] = [];
  for (let i = 0; i < words.length; i += perLine) {
    const row = words.slice(i, i + perLine);
    const cells = row.map((w) => w.toString(16).padStart(size * 2, "0") + " ").join("").padEnd(perLine * (size * 2 + 1));
    let ascii = "";
    for (const w of row) for (let j = 0; j < size; j++) {
      const c = Number((w >> BigInt(j * 8)) & 0xffn);
      ascii += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : ".";
    }
    lines.push(`${hex16(addr + BigInt(i * size))}:  ${cells}  ${ascii}`);
  }
  return lines.join("\n") + "\n";
}

/** `kdump analyze VMCORE rd [-8|-16|-32|-64] ADDR|SYMBOL [COUNT]`. */
export const rdCommand: AnalyzeCommand = {
  describe: "rd [-8|-16|-32|-64] ADDR|SYMBOL [COUNT]: raw memory as words and ASCII",
  run: (ctx) => {
    const { flags, rest } = parseFlags(ctx.opts.args ?? []);
    const size = (flags.has("8") ? 1 : flags.has("16") ? 2 : flags.has("32") ? 4 : 8) as 1 | 2 | 4 | 8;
    if (!rest[0]) throw new UsageError("rd needs an address", { hint: "rd -64 jiffies 2" });
    const k = typedKernel(ctx);
    const addr = parseAddress(k, rest[0]);
    const count = rest[1] === undefined ? 1 : Number(rest[1]);
    if (!Number.isInteger(count) || count < 1 || count > 1 << 20) throw new UsageError(`rd: count ${rest[1]} is not a number from 1 to ${1 << 20}`);
    const words = readWords(k.view, addr, size, count);
    return { data: { address: hexJson(addr), size, words: words.map((w) => "0x" + w.toString(16).padStart(size * 2, "0")) }, text: formatRd(addr, size, words) };
  },
};
