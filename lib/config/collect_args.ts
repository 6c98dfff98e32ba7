// The config as the capture init runs the collector: `kdump collect` arguments for the target directory, level,
// codec, format, threads, the kernel log and how many dumps to keep.
import type { Settings } from "./settings.ts";

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
