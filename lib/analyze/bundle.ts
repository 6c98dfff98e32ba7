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
  /** What `sys --json` gives. */
  sys: Part<ReturnType<typeof readSys>>;
  /** What `log --json` gives. */
  log: Part<ReturnType<typeof logJson>>;
  /** What `bt -a --json` gives. */
  bt: Part<{ tasks: ReturnType<typeof backtraces> }>;
  /** What `ps --json` gives. */
  ps: Part<ReturnType<typeof psTasks>>;
  /** What `mod --json` gives. */
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
    ps: part(() => psTasks(ctx.program)),
    mod: part(() => ({ modules: modRows(ctx.modules) })),
  };
}

function part<T>(f: () => T): Part<T> {
  try {
    return f();
  } catch (e) {
    // a DataView read past its end means kernel data that makes no sense: that part fails, not the bundle
    if (e instanceof KdumpError || e instanceof RangeError) return { error: errorLine(e) };
    throw e;
  }
}
