// The variables a sourced config file (/etc/sysconfig/kdump, /etc/default/kdump-tools) sets, with their lines: the
// last assignment of each name, as the shell leaves it. A value that expands a variable or runs a command is an
// error: the toolkit does not run the file, and guessing its value could arm the box wrongly.
import { parseShellAssignments } from "../boot/shell_assign.ts";
import { ConfigError, type Origin } from "./origin.ts";

/** One variable's final value and where it was set. */
export interface ShellValue {
  value: string;
  at: Origin;
}

/**
 * The variables `text` sets, by name (empty values included: "" means unset to these tools).
 * @example shellVariables('USE_KDUMP=1\n', "/etc/default/kdump-tools").USE_KDUMP  // { value: "1", at: { file, line: 1 } }
 */
export function shellVariables(text: string, file: string): Record<string, ShellValue> {
  const out: Record<string, ShellValue> = {};
  for (const a of parseShellAssignments(text, file)) {
    const at = { file, line: a.line };
    if (a.literal === null) throw new ConfigError(at, `${a.name} uses a shell expansion ($…, \`…\`) that the toolkit does not evaluate`, "write the value out literally");
    out[a.name] = { value: a.literal, at };
  }
  return out;
}

/** Words of a value. */
export function words(v: string): string[] {
  return v.split(/\s+/).filter(Boolean);
}
