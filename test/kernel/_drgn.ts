// drgn (Debian's python3-drgn 0.0.22) as an oracle: runs a Python snippet with `prog` loaded from a DWARF
// vmlinux (and optionally a vmcore) and returns what it prints as JSON.
import { $ } from "bun";

/**
 * Runs `body` (Python, may use `prog`, `drgn`, `json`) and parses its stdout as JSON.
 * With `vmcore` the program is the dump; without, it holds only the vmlinux's types.
 */
export async function drgnJson<T>(vmlinux: string, body: string, vmcore?: string): Promise<T> {
  const script = [
    "import drgn, json, sys",
    "from drgn.helpers.linux import *",
    "prog = drgn.Program()",
    vmcore ? `prog.set_core_dump(${JSON.stringify(vmcore)})` : "",
    `prog.load_debug_info([${JSON.stringify(vmlinux)}], default=False)`,
    body,
  ].join("\n");
  const r = await $`/usr/bin/python3 -c ${script}`.quiet().nothrow();
  if (r.exitCode !== 0) throw new Error(`drgn failed: ${r.stderr.toString().slice(-2000)}`);
  return JSON.parse(r.stdout.toString()) as T;
}
