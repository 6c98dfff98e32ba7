// Typed errors of the toolkit. Each says what failed and what to do next; the CLI prints
// `kdump: <message>` as one line and exits non-zero, never a stack trace.

/** Base of every error the CLI reports as one line. `hint` says what to do next. */
export class KdumpError extends Error {
  override name = "KdumpError";
  /** What the user can do about it, appended to the message after a colon. */
  hint?: string;
  constructor(message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.hint = opts.hint;
  }
  /** The one line the CLI prints. */
  summary(): string {
    return this.hint ? `${this.message}: ${this.hint}` : this.message;
  }
}

/** Bad command-line input or options. */
export class UsageError extends KdumpError {
  override name = "UsageError";
}

/** A dump file whose bytes make no sense at `offset`. */
export class DumpFormatError extends KdumpError {
  override name = "DumpFormatError";
  offset?: number;
  constructor(message: string, opts: { offset?: number; hint?: string; cause?: unknown } = {}) {
    super(opts.offset === undefined ? message : `${message} (at 0x${opts.offset.toString(16)})`, opts);
    this.offset = opts.offset;
  }
}

/** Kernel data in the dump that makes no sense (a broken list, an impossible size). */
export class BadDataError extends KdumpError {
  override name = "BadDataError";
}

/** An address that is not in the dump or not mapped. */
export class FaultError extends KdumpError {
  override name = "FaultError";
  address: bigint;
  constructor(message: string, address: bigint, opts: { hint?: string } = {}) {
    super(`${message}: 0x${address.toString(16).padStart(16, "0")}`, opts);
    this.address = address;
  }
}

/** Something the dump lacks (no BTF, no kallsyms, no VMCOREINFO key). */
export class MissingDataError extends KdumpError {
  override name = "MissingDataError";
}

/** A failed syscall, with its errno name and number. */
export class SyscallError extends KdumpError {
  override name = "SyscallError";
  errno: number;
  code: string;
  constructor(call: string, errno: number, code: string, opts: { hint?: string; detail?: string } = {}) {
    super(`${call} failed with ${code} (${errno})${opts.detail ? `: ${opts.detail}` : ""}`, opts);
    this.errno = errno;
    this.code = code;
  }
}

/** A lab (QEMU) failure: missing qemu, a guest that hung, a kernel that would not boot. */
export class LabError extends KdumpError {
  override name = "LabError";
}

/** A machine (uname -m) the toolkit cannot act on: no syscall table for it. */
export class UnsupportedMachineError extends KdumpError {
  override name = "UnsupportedMachineError";
}

/** A refusal to do something dangerous without confirmation. */
export class RefusedError extends KdumpError {
  override name = "RefusedError";
}

/**
 * The one line the CLI prints for any thrown value: typed errors by their message, system errors by code and path.
 * Control characters (a newline in a name read from a corrupted dump) are escaped, so it stays one line.
 */
export function errorLine(e: unknown): string {
  return oneLine(errorText(e));
}

function oneLine(s: string): string {
  return s.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

function errorText(e: unknown): string {
  if (e instanceof KdumpError) return e.summary();
  if (e && typeof e === "object" && "code" in e && typeof (e as any).code === "string") {
    const err = e as NodeJS.ErrnoException;
    const what = err.path ? `${err.path}: ` : "";
    const hints: Record<string, string> = {
      ENOENT: "no such file or directory",
      EACCES: "permission denied: run as root?",
      EPERM: "operation not permitted: run as root?",
      ENOSPC: "no space left on the device",
      EROFS: "read-only file system: remount it read-write or choose another target",
      EISDIR: "is a directory, expected a file",
      ENOTDIR: "not a directory",
    };
    return `${what}${hints[err.code!] ?? err.message}`;
  }
  if (e instanceof Error) return e.message;
  return String(e);
}
