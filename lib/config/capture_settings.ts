// The config as the capture init applies it: the target directory, `kdump collect` arguments (level, codec,
// format, threads, the kernel log, dumps to keep), the hooks in order, and the failure and final actions.
import type { FailureAction, FinalAction } from "./actions.ts";
import { hooks } from "./load.ts";
import type { KdumpConfig, Settings } from "./settings.ts";

/** What the capture init is built with. */
export interface CaptureSettings {
  /** The dump directory on the crashed system's root filesystem. */
  target: string;
  /** Arguments after `kdump collect --from /proc/vmcore --out TARGET`. */
  collectArgs: string[];
  preHooks: string[];
  postHooks: string[];
  failureAction: FailureAction;
  finalAction: FinalAction;
}

/**
 * The arguments after `kdump collect --from /proc/vmcore --out DIR` that apply `s`.
 * @example collectArgs({ ...DEFAULT_SETTINGS, codec: "zlib", dumpLevel: 1 })  // ["--level", "1", "--compress", "zlib", "--format", "kdump"]
 */
export function collectArgs(s: Settings): string[] {
  return [
    "--level", String(s.dumpLevel),
    "--compress", s.codec,
    "--format", s.format,
    ...(s.threads === null ? [] : ["--threads", String(s.threads)]),
    ...(s.dmesg ? [] : ["--no-dmesg"]),
    ...(s.keep ? ["--keep", String(s.keep)] : []),
  ];
}

/**
 * The capture init's settings from a config whose target is a directory (checkSupported() first).
 * @example captureSettings(loadConfig()).collectArgs
 */
export function captureSettings(c: KdumpConfig): CaptureSettings {
  const s = c.settings;
  const h = hooks(c);
  return {
    target: s.target.kind === "dir" ? s.target.path : s.target.kind === "raw" ? s.target.device : "/var/crash",
    collectArgs: collectArgs(s),
    preHooks: h.pre,
    postHooks: h.post,
    failureAction: s.failureAction,
    finalAction: s.finalAction,
  };
}
