// The `kdump analyze VMCORE [COMMAND]` dispatch: crash's command names, one table entry per command, each a
// function of a lazily built context (dump → kernel view → log) returning data and its text form.
import type { Dump } from "../dump/dump.ts";
import { openDump } from "../dump/open.ts";
import { openKernel } from "../kernel/open.ts";
import { KernelProgram } from "../kernel/program.ts";
import { readModules, type Module } from "../kernel/modules.ts";
import { readPrintk, type PrintkRecord } from "../kernel/printk.ts";
import type { KernelView } from "../kernel/view.ts";
import { BadDataError, FaultError, KdumpError, UsageError } from "../errors.ts";
import { logCommand } from "./log.ts";
import { reportCommand } from "./report.ts";
import { sysCommand } from "./sys.ts";
import { btCommand } from "./bt.ts";
import { psCommand } from "./ps.ts";
import { modCommand } from "./mod.ts";
import { fullReport } from "./bundle.ts";
import { dataCommands } from "./data_commands.ts";
import { disCommand } from "./dis.ts";

/** Options of `kdump analyze`. */
export interface AnalyzeOptions {
  /** Print data as JSON (same as format "json"). */
  json?: boolean;
  /** "text" (default), "json", or "msgpack" (binary; the default report becomes the whole bundle). */
  format?: "text" | "json" | "msgpack";
  /** The command's own arguments (bt: -a, PIDs). */
  args?: string[];
  /** A System.map for kernels whose VMCOREINFO does not locate kallsyms; refused when it does not match. */
  systemMap?: string;
}

/** What a command may ask for; each part is built on first use and kept. */
export class AnalyzeContext {
  private k?: KernelView;
  private records?: PrintkRecord[];
  private prog?: KernelProgram;
  private mods?: Module[];
  constructor(
    readonly dump: Dump,
    readonly opts: AnalyzeOptions = {},
  ) {}
  /** Symbols, types and unwind tables read from the dump. */
  get program(): KernelProgram {
    return (this.prog ??= reading("the kallsyms, BTF and ORC tables", () => new KernelProgram(this.kernel, { systemMap: this.opts.systemMap })));
  }
  /** The loaded modules (their ORC tables joined to the program's). */
  get modules(): Module[] {
    return (this.mods ??= reading("the module list", () => readModules(this.program)));
  }
  /** The kernel's virtual memory. */
  get kernel(): KernelView {
    return (this.k ??= reading("VMCOREINFO and the page tables", () => openKernel(this.dump)));
  }
  /** The kernel log, oldest first. */
  get log(): PrintkRecord[] {
    return (this.records ??= reading("the printk ring buffer", () => readPrintk(this.kernel)));
  }
}

const NONSENSE_HINT = "the dump is corrupted or from an unsupported kernel: try another dump of this crash, or --system-map with the kernel's System.map";

/**
 * Runs `f`; a DataView or array read past its end (RangeError, TypeError) means the kernel structure it was
 * reading makes no sense: it becomes a BadDataError naming `what`.
 */
function reading<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof RangeError || e instanceof TypeError) throw nonsense(what, e);
    throw e;
  }
}

function nonsense(what: string, e: Error): BadDataError {
  const detail = /out of bounds|offset is outside|byteOffset|length/i.test(e.message) ? "a field lies outside the bytes that hold it" : e.message;
  return new BadDataError(`reading ${what}: ${detail}`, { hint: NONSENSE_HINT });
}

/** @msgpack/msgpack, loaded on first use: importing it costs ~30 ms, which every other CLI run would pay. */
function msgpack(): typeof import("@msgpack/msgpack") {
  return require("@msgpack/msgpack");
}

/** A command's answer: data for --json, and the exact text to print otherwise. */
export interface AnalyzeOutput {
  data: unknown;
  text: string;
}

/** One analyze command. */
export interface AnalyzeCommand {
  /** One line for --help. */
  describe: string;
  /** Loads what run() needs asynchronously (the disassembler's WASM); awaited before run(). */
  prepare?: () => Promise<void>;
  run(ctx: AnalyzeContext): AnalyzeOutput;
}

/** The commands, by crash's names; `report` is what `kdump analyze VMCORE` alone runs. */
export const analyzeCommands: Record<string, AnalyzeCommand> = {
  report: reportCommand,
  log: logCommand,
  sys: sysCommand,
  bt: btCommand,
  ps: psCommand,
  mod: modCommand,
  ...dataCommands,
  dis: disCommand,
};

/**
 * Runs `command` (default "report") on the dump at `path` and returns what to print: the text, JSON, or
 * MessagePack bytes (for the default report: the whole bundle of sys, log, bt -a, ps and mod).
 * @example process.stdout.write(analyze("/var/crash/vmcore", "log", { json: false }))
 */
export function analyze(path: string, command?: string, opts?: AnalyzeOptions & { format?: "text" | "json" }): string;
export function analyze(path: string, command: string | undefined, opts: AnalyzeOptions): string | Uint8Array;
export function analyze(path: string, command = "report", opts: AnalyzeOptions = {}): string | Uint8Array {
  const cmd = analyzeCommands[command];
  if (!cmd) throw new UsageError(`unknown analyze command ${command}`, { hint: `use one of: ${Object.keys(analyzeCommands).join(", ")}` });
  let dump: Dump | undefined;
  try {
    dump = openDump(path);
    return runCommand(new AnalyzeContext(dump, opts), command);
  } catch (e) {
    throw inFile(path, command, e);
  } finally {
    dump?.close();
  }
}

/**
 * Runs `command` on an open context (its options say the format and arguments) and returns what to print; the
 * context keeps what it read, so a session's next command is fast.
 * @example runCommand(new AnalyzeContext(openDump(path), { args: ["-a"] }), "bt")
 */
export function runCommand(ctx: AnalyzeContext, command: string): string | Uint8Array {
  const cmd = analyzeCommands[command];
  if (!cmd) throw new UsageError(`unknown analyze command ${command}`, { hint: `use one of: ${Object.keys(analyzeCommands).join(", ")}` });
  const opts = ctx.opts;
  try {
    if (opts.format === "msgpack") return msgpack().encode(command === "report" ? fullReport(ctx) : cmd.run(ctx).data, { useBigInt64: true });
    const out = cmd.run(ctx);
    return opts.json || opts.format === "json" ? toJson(out.data) + "\n" : out.text;
  } catch (e) {
    // a DataView or array read past its end means a kernel structure in the dump makes no sense
    if (e instanceof RangeError || e instanceof TypeError) throw nonsense(`the kernel data of ${command}`, e);
    throw e;
  }
}

/** `e` as an error whose one line names the dump file (and the command, for data that makes no sense). */
function inFile(path: string, command: string, e: unknown): unknown {
  if (e instanceof RangeError || e instanceof TypeError) e = nonsense(`the kernel data of ${command}`, e);
  if (e instanceof FaultError) {
    // a pointer the command followed leads outside the dump's memory: say which command, and what to try
    e.message = `${command}: ${e.message}`;
    e.hint ??= "a kernel pointer leads outside the dump's memory: the dump is corrupted or filtered too much; try another dump of this crash (or one collected with --level 1), or --system-map with the kernel's System.map";
  }
  if (e instanceof KdumpError && !e.message.includes(path)) e.message = `${path}: ${e.message}`;
  return e;
}

/** Writes `text` to stdout exactly; a reader that went away (`| head`) is not an error. */
export async function printOutput(text: string | Uint8Array): Promise<void> {
  try {
    await Bun.write(Bun.stdout, text);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EPIPE") throw e;
  }
}

/** JSON with bigints as numbers when exact, else as decimal strings. */
export function toJson(data: unknown): string {
  return JSON.stringify(data, (_k, v) => (typeof v === "bigint" ? (v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()) : v), 2);
}
