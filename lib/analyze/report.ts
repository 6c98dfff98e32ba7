// The default `kdump analyze VMCORE` report: the sys facts, then the end of the log from a little before the
// crash (the panic or oops) to the last line, in vmcore-dmesg's format; then the panic task's stack trace; then the
// cause with its evidence (lib/analyze/explain.ts: D-state tasks, the stuck CPU, the faulting instruction, OOM).
import type { AnalyzeCommand } from "./command.ts";
import { formatDmesg } from "./log.ts";
import { formatSys, readSys, type SysInfo } from "./sys.ts";
import { backtraces, formatBt, modulesOrNone, type BtTask } from "./bt.ts";
import { errorLine, KdumpError } from "../errors.ts";
import { loadDisassembler } from "../kernel/disasm.ts";
import { explain, formatCause, type Cause } from "./explain.ts";

/** Log lines kept before the line that starts the crash. */
const CONTEXT = 5;
/** Most log lines the report prints. */
const MAX_LINES = 60;

/** What the report holds. */
export interface Report {
  sys: SysInfo;
  /** The last log lines, in vmcore-dmesg's format, one per element. */
  log: string[];
  /** The panic task's stack trace, or why there is none. */
  bt: BtTask | { error: string };
  /** Why it crashed, with the evidence for that kind of panic. */
  cause: Cause | { error: string };
}

/**
 * The lines of `dmesg` (vmcore-dmesg text) from CONTEXT lines before the crash's first line to the end, at most
 * MAX_LINES; the last 20 lines when no crash line is found.
 */
export function crashTail(dmesg: string, panic: string | null): string[] {
  const lines = dmesg.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  let at = -1;
  if (panic !== null) for (let i = lines.length - 1; i >= 0 && at < 0; i--) if (lines[i]!.includes(panic)) at = i;
  const from = at < 0 ? lines.length - 20 : at - CONTEXT;
  return lines.slice(Math.max(0, from, lines.length - MAX_LINES));
}

/** `kdump analyze VMCORE` with no command. */
export const reportCommand: AnalyzeCommand = {
  describe: "a short report: sys, then the log from just before the crash, the panic bt and the cause (the default)",
  prepare: loadDisassembler,
  run: (ctx) => {
    const sys = readSys(ctx);
    let log: string[] = [];
    let all: string[] = [];
    try {
      all = formatDmesg(ctx.log).split("\n");
      log = crashTail(all.join("\n"), sys.panic);
    } catch (e) {
      log = [`(log unreadable: ${e instanceof Error ? e.message : String(e)})`];
    }
    let cause: Report["cause"];
    try {
      cause = explain(ctx, all, sys.panic);
    } catch (e) {
      if (!(e instanceof KdumpError || e instanceof RangeError)) throw e;
      cause = { error: errorLine(e) };
    }
    let bt: Report["bt"];
    try {
      bt = backtraces(ctx.program, modulesOrNone(ctx), [])[0]!;
    } catch (e) {
      if (!(e instanceof KdumpError || e instanceof RangeError)) throw e;
      bt = { error: errorLine(e) };
    }
    const report: Report = { sys, log, bt, cause };
    const btText = "error" in bt ? `bt: ${bt.error}\n` : formatBt([bt]);
    const causeText = "error" in cause ? `CAUSE: unknown (${cause.error})\n` : formatCause(cause);
    return { data: report, text: `${formatSys(sys)}\n${log.join("\n")}\n\n${btText}\n${causeText}` };
  },
};
