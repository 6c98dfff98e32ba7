// The whole report for tools (`kdump analyze VMCORE --format msgpack`): sys, the log records, bt of every CPU,
// ps and mod, each part independent: a part the dump cannot answer holds {error} and the others are still there.
import { errorLine, KdumpError } from "../errors.ts";
import { backtraces, modulesOrNone } from "./bt.ts";
import type { AnalyzeContext } from "./command.ts";
import { logJson } from "./log.ts";
import { modRows } from "./mod.ts";
import { psTasks } from "./ps.ts";
import { readSys } from "./sys.ts";

/** A part of the bundle, or why it is missing. */
export type Part<T> = T | { error: string };

/** Everything `--format msgpack` writes. */
export interface Bundle {
  sys: Part<ReturnType<typeof readSys>>;
  log: Part<ReturnType<typeof logJson>>;
  bt: Part<{ tasks: ReturnType<typeof backtraces> }>;
  ps: Part<{ tasks: ReturnType<typeof psTasks> }>;
  mod: Part<{ modules: ReturnType<typeof modRows> }>;
}

/**
 * sys, log, bt -a, ps and mod of the context's dump.
 * @example encode(fullReport(new AnalyzeContext(openDump(path))), { useBigInt64: true })
 */
export function fullReport(ctx: AnalyzeContext): Bundle {
  return {
    sys: part(() => readSys(ctx)),
    log: part(() => logJson(ctx.log)),
    bt: part(() => ({ tasks: backtraces(ctx.program, modulesOrNone(ctx), ["-a"]) })),
    ps: part(() => ({ tasks: psTasks(ctx.program) })),
    mod: part(() => ({ modules: modRows(ctx.modules) })),
  };
}

function part<T>(f: () => T): Part<T> {
  try {
    return f();
  } catch (e) {
    if (e instanceof KdumpError) return { error: errorLine(e) };
    throw e;
  }
}
