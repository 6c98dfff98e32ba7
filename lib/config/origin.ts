// Where a setting came from (file and line), the notes a reader leaves about what it accepted without effect,
// the conflicts between files, and the typed error every config reader throws: file:line, what, what to do.
import { KdumpError } from "../errors.ts";

/** A place in a config file. `line` 0 means "this file's own default" (e.g. kdump-tools' MAKEDUMP_ARGS unset). */
export interface Origin {
  /** The file, as an absolute path on the configured system (/etc/kdump.conf). */
  file: string;
  /** 1-based line; 0 for the file's tool's default. */
  line: number;
}

/** Something a reader accepted but that has no effect here, or does something slightly different. */
export interface Note extends Origin {
  /** One sentence. */
  text: string;
}

/** "file:line", or "file (default)" for line 0. */
export function formatOrigin(o: Origin | null): string {
  if (!o) return "default";
  return o.line ? `${o.file}:${o.line}` : `${o.file} (default)`;
}

/** A config file that cannot be used: the file, the line, what is wrong and what to do. */
export class ConfigError extends KdumpError {
  override name = "ConfigError";
  /** The file. */
  file: string;
  /** 1-based line (0: the file as a whole). */
  line: number;
  constructor(at: Origin, message: string, hint: string) {
    super(`${formatOrigin(at).replace(" (default)", "")}: ${message}`, { hint });
    this.file = at.file;
    this.line = at.line;
  }
}
