// x86_64 machine code decoded by Capstone 5 (the @alexaltea/capstone-js WebAssembly build): AT&T or Intel syntax,
// as crash (gdb, AT&T) and objdump -M intel print it. The WASM module is compiled once per process, on first need
// (~0.2–0.4 s), so commands that never disassemble never pay for it.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { KdumpError } from "../errors.ts";

/** One decoded instruction. */
export interface Instruction {
  /** Its address. */
  address: bigint;
  /** Its length in bytes. */
  size: number;
  /** Its bytes. */
  bytes: Uint8Array;
  /** Mnemonic as Capstone prints it ("movq" in AT&T, "mov" in Intel syntax). */
  mnemonic: string;
  /** Operands as Capstone prints them, "" when it has none. */
  operands: string;
}

/** "att" (crash's and gdb's default) or "intel" (objdump -M intel). */
export type Syntax = "att" | "intel";

/** The parts of Capstone's JavaScript API used here. */
interface CapstoneModule {
  ARCH_X86: number;
  MODE_64: number;
  OPT_SYNTAX: number;
  OPT_SYNTAX_ATT: number;
  OPT_SYNTAX_INTEL: number;
  Capstone: new (arch: number, mode: number) => CapstoneHandle;
}
interface CapstoneHandle {
  option(opt: number, value: number): void;
  disasm(code: Uint8Array | number[], address: bigint | number, count?: number): { address: bigint; size: number; bytes: number[]; mnemonic: string; op_str: string }[];
}

let capstone: CapstoneModule | undefined;
const handles = new Map<Syntax, CapstoneHandle>();

/**
 * Compiles Capstone's WASM module (once). Await it before disassemble().
 * @example await loadDisassembler(); disassemble(Uint8Array.of(0x55, 0xc3), 0xffffffff81000000n)
 */
export async function loadDisassembler(): Promise<void> {
  if (capstone) return;
  const main = require.resolve("@alexaltea/capstone-js");
  // compiling the module ourselves (synchronously) is about twice as fast as the glue's streaming instantiation
  const wasm = new WebAssembly.Module(readFileSync(join(dirname(main), "capstone.wasm")));
  const factory = (require(main) as { default: (m: object) => Promise<CapstoneModule> }).default;
  capstone = await factory({
    instantiateWasm(imports: Record<string, Record<string, unknown>>, done: (i: WebAssembly.Instance, m: WebAssembly.Module) => void) {
      const instance = new WebAssembly.Instance(wasm, imports as never);
      done(instance, wasm);
      return instance.exports;
    },
  });
}

/** True once loadDisassembler() has finished. */
export function disassemblerLoaded(): boolean {
  return capstone !== undefined;
}

function handle(syntax: Syntax): CapstoneHandle {
  if (!capstone) throw new KdumpError("the disassembler is not loaded", { hint: "await loadDisassembler() first" });
  let h = handles.get(syntax);
  if (!h) {
    h = new capstone.Capstone(capstone.ARCH_X86, capstone.MODE_64);
    h.option(capstone.OPT_SYNTAX, syntax === "att" ? capstone.OPT_SYNTAX_ATT : capstone.OPT_SYNTAX_INTEL);
    handles.set(syntax, h);
  }
  return h;
}

/**
 * The instructions in `code`, which sits at `address`, up to `count` of them (default: all). Decoding stops at the
 * first byte sequence that is no instruction.
 * @example disassemble(Uint8Array.of(0x55, 0xc3), 0xffffffff81000000n).map((i) => i.mnemonic) // ["pushq", "retq"]
 */
export function disassemble(code: Uint8Array, address: bigint, opts: { count?: number; syntax?: Syntax } = {}): Instruction[] {
  let out: ReturnType<CapstoneHandle["disasm"]>;
  try {
    out = handle(opts.syntax ?? "att").disasm(code, address, opts.count ?? 0);
  } catch (e) {
    if (typeof e === "string") return []; // Capstone.js throws a string when the first bytes are no instruction
    throw e;
  }
  return out.map((i) => {
    const at = BigInt.asUintN(64, BigInt(i.address));
    const off = Number(at - address);
    return { address: at, size: i.size, bytes: code.subarray(off, off + i.size), mnemonic: i.mnemonic, operands: attImmediates(i.op_str) };
  });
}

/**
 * Capstone 5's AT&T printer writes a sign-extended 64-bit immediate as an unsigned decimal
 * (`movq $18446744072521947065, %rdi`) where it writes every other immediate above 9 in hex: print those in hex
 * too, as gdb and objdump do (`$0xffffffffb93697b9`).
 */
export function attImmediates(operands: string): string {
  return operands.replace(/\$(\d{10,})\b/g, (_m, d: string) => `$0x${BigInt(d).toString(16)}`);
}
