// The `kdump analyze VMCORE [COMMAND]` dispatch: crash's command names, one table entry per command, each a
// function of a lazily built context (dump → kernel view → log) returning data and its text form.
import type { Dump } from "../dump/dump.ts";
import { openDump } from "../dump/open.ts";
import { openKernel } from "../kernel/open.ts";
import { readPrintk, type PrintkRecord } from "../kernel/printk.ts";
import type { KernelView } from "../kernel/view.ts";
import { BadDataError, UsageError } from "../errors.ts";
import { logCommand } from "./log.ts";
import { reportCommand } from "./report.ts";
import { sysCommand } from "./sys.ts";

/** What a command may ask for; each part is built on first use and kept. */
export class AnalyzeContext {
  private k?: KernelView;
  private records?: PrintkRecord[];
  constructor(readonly dump: Dump) {}
  /** The kernel's virtual memory. */
  get kernel(): KernelView {
    return (this.k ??= openKernel(this.dump));
  }
  /** The kernel log, oldest first. */
  get log(): PrintkRecord[] {
    return (this.records ??= readPrintk(this.kernel));
  }
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
  run(ctx: AnalyzeContext): AnalyzeOutput;
}

/** The commands, by crash's names; `report` is what `kdump analyze VMCORE` alone runs. */
export const analyzeCommands: Record<string, AnalyzeCommand> = {
  report: reportCommand,
  log: logCommand,
  sys: sysCommand,
};

/**
 * Runs `command` (default "report") on the dump at `path` and returns what to print: the text, or JSON.
 * @example process.stdout.write(analyze("/var/crash/vmcore", "log", { json: false }))
 */
export function analyze(path: string, command = "report", opts: { json?: boolean } = {}): string {
  const cmd = analyzeCommands[command];
  if (!cmd) throw new UsageError(`unknown analyze command ${command}`, { hint: `use one of: ${Object.keys(analyzeCommands).join(", ")}` });
  const dump = openDump(path);
  try {
    const out = cmd.run(new AnalyzeContext(dump));
    return opts.json ? toJson(out.data) + "\n" : out.text;
  } catch (e) {
    // a DataView or array read past its end means a kernel structure in the dump makes no sense
    if (e instanceof RangeError || e instanceof TypeError)
      throw new BadDataError(`${command}: the dump's kernel data makes no sense (${e.message})`, { hint: "the dump is corrupted or from an unsupported kernel" });
    throw e;
  } finally {
    dump.close();
  }
}

/** Writes `text` to stdout exactly; a reader that went away (`| head`) is not an error. */
export async function printOutput(text: string): Promise<void> {
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
