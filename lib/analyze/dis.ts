// `dis`: x86_64 disassembly of kernel or module text read from the dump, as crash's dis prints it
// ("0xADDR <func+off>:\tmnemonic operands", AT&T syntax; -i for Intel). A function's bounds come from kallsyms
// (or the module's symbol table): it ends where the next symbol starts.
import { UsageError } from "../errors.ts";
import { disassemble, loadDisassembler, type Instruction, type Syntax } from "../kernel/disasm.ts";
import { symbolizeAddress, type ModuleList } from "../kernel/modules.ts";
import type { KernelProgram } from "../kernel/program.ts";
import type { AnalyzeCommand } from "./command.ts";
import { modulesOrNone } from "./bt.ts";

/** One instruction as `dis --json` prints it. */
export interface DisLine {
  /** Its address (0x hex). */
  address: string;
  /** "func+off", or null outside any symbol. */
  symbol: string | null;
  /** Module name, null for the kernel. */
  module: string | null;
  /** Its bytes (hex). */
  bytes: string;
  mnemonic: string;
  operands: string;
  /** For a call or jump to a fixed address: the symbol there ("panic", "func+12"), as gdb shows it in <>. */
  target?: string;
}

/** Symbols of branch targets, by program: a function's jumps land in itself, its calls on a few dozen others. */
const targetMemo = new WeakMap<KernelProgram, Map<bigint, ReturnType<typeof symbolizeAddress>>>();

function targets(prog: KernelProgram, mods: ModuleList, addr: bigint): ReturnType<typeof symbolizeAddress> {
  let memo = targetMemo.get(prog);
  if (!memo) targetMemo.set(prog, (memo = new Map()));
  if (!memo.has(addr)) memo.set(addr, symbolizeAddress(prog, mods, addr));
  return memo.get(addr);
}

/** The symbol a direct call or jump lands on. */
function branchTarget(prog: KernelProgram, mods: ModuleList, i: Instruction): string | undefined {
  if (!/^(call|j)/.test(i.mnemonic)) return undefined;
  const m = /^(0x[0-9a-f]+)$/.exec(i.operands);
  if (!m) return undefined;
  const s = targets(prog, mods, BigInt(m[1]!));
  if (!s?.name) return undefined;
  return (s.offset ? `${s.name}+${s.offset}` : s.name) + (s.module ? ` [${s.module}]` : "");
}

/** What `dis` was asked to show. */
export interface DisRequest {
  /** The address to start at (or, with reverse, to end at). */
  address: bigint;
  /** Instructions to show; undefined: the whole function for a symbol, one for an address. */
  count?: number;
  /** -r: from the function's start up to and including `address`. */
  reverse: boolean;
  /** -f: from `address` to the function's end. */
  forward: boolean;
  syntax: Syntax;
}

/** Longest stretch decoded when no symbol bounds it (x86 instructions are at most 15 bytes). */
const MAX_BYTES = 64 * 1024;

/** The alignment filler compilers put between functions, which crash (bounded by DWARF) does not show. */
const PADDING = /^(nop[wlq]?|int3)$/;

const hex = (v: bigint) => "0x" + v.toString(16).padStart(16, "0");

/** The address of `arg`: hex, or a kernel or module symbol with an optional +offset (decimal or 0x hex). */
export function resolveAddress(prog: KernelProgram, mods: ModuleList, arg: string): bigint {
  if (/^(0x)?[0-9a-f]{9,16}$/i.test(arg)) return BigInt(arg.startsWith("0x") ? arg : `0x${arg}`);
  const m = /^([\w.$]+)(?:\+(0x[0-9a-f]+|\d+))?$/i.exec(arg);
  if (!m) throw new UsageError(`${arg} is neither an address nor a symbol`, { hint: "give a symbol (sysrq_handle_crash, func+0x10) or a hex address" });
  let base = prog.symbols.lookup(m[1]!);
  if (base === undefined) for (const mod of mods()) base ??= mod.symbols.find((s) => s.name === m[1])?.address;
  if (base === undefined) throw new UsageError(`no symbol ${m[1]} in the kernel or its modules`, { hint: "kdump analyze VMCORE sym NAME, or give an address" });
  return base + (m[2] ? BigInt(m[2]) : 0n);
}

/** Parses dis's arguments: [-r|-f] [-i] FUNC|ADDR [COUNT]. */
export function parseDisArgs(prog: KernelProgram, mods: ModuleList, args: string[]): DisRequest & { symbolGiven: boolean } {
  const flags = new Set<string>();
  const rest: string[] = [];
  for (const a of args) {
    if (/^-[rfi]+$/.test(a)) for (const c of a.slice(1)) flags.add(c);
    else if (a.startsWith("-")) throw new UsageError(`dis: unknown option ${a}`, { hint: "dis [-r|-f] [-i] FUNC|ADDR [COUNT]" });
    else rest.push(a);
  }
  if (rest.length < 1 || rest.length > 2) throw new UsageError("dis needs a function or an address, and optionally a count", { hint: "e.g. dis sysrq_handle_crash, dis -r 0xffffffff81234567" });
  if (flags.has("r") && flags.has("f")) throw new UsageError("dis: -r and -f exclude each other", { hint: "-r shows the function up to the address, -f from it to the end" });
  let count: number | undefined;
  if (rest[1] !== undefined) {
    if (!/^\d+$/.test(rest[1]) || Number(rest[1]) < 1) throw new UsageError(`dis: count ${rest[1]} is not a positive number`, { hint: "e.g. dis func 10" });
    count = Number(rest[1]);
  }
  const symbolGiven = !/^(0x)?[0-9a-f]{9,16}$/i.test(rest[0]!) && !rest[0]!.includes("+");
  return { address: resolveAddress(prog, mods, rest[0]!), count, reverse: flags.has("r"), forward: flags.has("f"), syntax: flags.has("i") ? "intel" : "att", symbolGiven };
}

/**
 * The instructions `req` asks for: a symbol alone gives its whole function; an address alone one instruction;
 * -r the function from its start through the address; -f from the address to the function's end.
 */
export function disassembleRequest(prog: KernelProgram, mods: ModuleList, req: DisRequest & { symbolGiven?: boolean }): Instruction[] {
  const sym = symbolizeAddress(prog, mods, req.address);
  const fnStart = sym ? sym.address : req.address;
  const fnEnd = sym && sym.size ? sym.address + BigInt(sym.size) : undefined;
  let start = req.address;
  let end: bigint;
  if (req.reverse) {
    start = fnStart;
    end = req.address + 16n;
  } else if (req.forward || (req.count === undefined && req.symbolGiven)) end = fnEnd ?? req.address + BigInt(MAX_BYTES);
  else end = req.address + BigInt(16 * (req.count ?? 1));
  if (fnEnd !== undefined && !req.reverse && req.count === undefined) end = end > fnEnd ? fnEnd : end;
  const len = Number(end - start);
  if (len <= 0 || len > MAX_BYTES) throw new UsageError(`dis: ${len} bytes from ${hex(start)} is not a range to disassemble`, { hint: "give a count" });
  const code = prog.readBulk(start, len);
  let out = disassemble(code, start, { syntax: req.syntax });
  if (req.reverse) out = out.filter((i) => i.address <= req.address);
  else if (req.count !== undefined) out = out.slice(0, req.count);
  else if (fnEnd !== undefined && end === fnEnd) while (out.length > 1 && PADDING.test(out[out.length - 1]!.mnemonic)) out.pop();
  return out;
}

/** The JSON lines of `ins`. */
export function disLines(prog: KernelProgram, mods: ModuleList, ins: Instruction[]): DisLine[] {
  let hit: ReturnType<typeof symbolizeAddress>;
  return ins.map((i) => {
    // one function's instructions share its symbol: look it up again only past its end
    if (!hit || !hit.size || i.address < hit.address || i.address >= hit.address + BigInt(hit.size)) hit = symbolizeAddress(prog, mods, i.address);
    const s = hit && { ...hit, offset: Number(i.address - hit.address) };
    return {
      address: hex(i.address),
      symbol: s?.name ? (s.offset ? `${s.name}+${s.offset}` : s.name) : null,
      module: s?.module ?? null,
      bytes: Buffer.from(i.bytes).toString("hex"),
      mnemonic: i.mnemonic,
      operands: i.operands,
      target: branchTarget(prog, mods, i),
    };
  });
}

/** crash's layout: "0xADDR <sym+off>:\tmnemonic operands <target>", the mnemonic padded as gdb pads it. */
export function formatDis(lines: DisLine[]): string {
  return lines
    .map((l) => {
      const ops = l.operands ? `${l.mnemonic.padEnd(6)} ${l.operands}${l.target ? ` <${l.target}>` : ""}` : l.mnemonic;
      return `${l.address}${l.symbol ? ` <${l.symbol}>` : ""}:\t${ops}`;
    })
    .join("\n") + "\n";
}

/** `kdump analyze VMCORE dis [-r|-f] [-i] FUNC|ADDR [COUNT]`. */
export const disCommand: AnalyzeCommand = {
  describe: "disassemble: dis FUNC (the whole function), dis ADDR [COUNT], -r up to ADDR, -f from ADDR; -i Intel syntax (like crash's dis)",
  prepare: loadDisassembler,
  run: (ctx) => {
    const mods = modulesOrNone(ctx);
    const req = parseDisArgs(ctx.program, mods, ctx.opts.args ?? []);
    const lines = disLines(ctx.program, mods, disassembleRequest(ctx.program, mods, req));
    return { data: { instructions: lines }, text: formatDis(lines) };
  },
};
