// The error every boot-config parser throws: what could not be read, in which file, at which line and column.
// Shared by the crashkernel= grammar and the shell-assignment files (GRUB defaults, kdump-tools, sysconfig).
import { KdumpError } from "../errors.ts";

/** Text that does not parse; `line` and `column` are 1-based, as editors count them. */
export class ConfigSyntaxError extends KdumpError {
  override name = "ConfigSyntaxError";
  /** The file (or "crashkernel=" for a bare value) the text came from. */
  source: string;
  /** 1-based line of the first offending character. */
  lineNo: number;
  /** 1-based column of the first offending character. */
  column: number;
  constructor(source: string, lineNo: number, column: number, message: string, opts: { hint?: string } = {}) {
    super(`${source}:${lineNo}:${column}: ${message}`, { hint: opts.hint ?? "fix the text there; nothing was changed" });
    this.source = source;
    this.lineNo = lineNo;
    this.column = column;
  }
}

/** The 1-based line and column of character `offset` in `text`. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === "\n") {
      line++;
      start = i + 1;
    }
  }
  return { line, column: offset - start + 1 };
}

/** A ConfigSyntaxError at character `offset` of `text`. */
export function syntaxErrorAt(source: string, text: string, offset: number, message: string): ConfigSyntaxError {
  const { line, column } = lineColumn(text, offset);
  return new ConfigSyntaxError(source, line, column, message);
}
