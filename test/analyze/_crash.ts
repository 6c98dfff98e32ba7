// Debian's crash 8.0.2 as an oracle on the 6.1 lab dumps (it cannot open the 6.12 ones), with the -dbg vmlinux;
// its output is cached beside the dump, one file per command list.
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { $ } from "bun";
import { buildOnce } from "../../lib/lab/lock.ts";

/** crash's output for `commands` (one per line) on `vmcore` with `vmlinux`, made once. */
export async function crashOutput(vmcore: string, vmlinux: string, commands: string[]): Promise<string> {
  const key = new Bun.CryptoHasher("sha256").update(commands.join("\n")).digest("hex").slice(0, 8);
  const out = join(dirname(vmcore), `crash-${key}.txt`);
  return buildOnce(out, () => (existsSync(out) ? readFileSync(out, "utf8") : undefined), () => runCrash(vmcore, vmlinux, commands, out));
}

async function runCrash(vmcore: string, vmlinux: string, commands: string[], out: string): Promise<string> {
  const cmds = `${out}.cmds`;
  writeFileSync(cmds, [...commands, "quit", ""].join("\n"));
  const r = await $`crash -s ${vmlinux} ${vmcore} -i ${cmds}`.quiet().nothrow();
  rmSync(cmds);
  if (r.exitCode !== 0) throw new Error(`crash failed (is crash installed?): ${r.stderr.toString().slice(-500)}`);
  writeFileSync(`${out}.tmp`, r.stdout);
  renameSync(`${out}.tmp`, out);
  return r.stdout.toString();
}

/** The rows of crash's `mod` output: struct module address, name, base, size. */
export function crashModRows(text: string): { module: string; name: string; base: string; size: number }[] {
  return [...text.matchAll(/^([0-9a-f]{16})  (\S+) +([0-9a-f]{16}) +(\d+)/gm)].map((m) => ({ module: `0x${m[1]}`, name: m[2]!, base: `0x${m[3]}`, size: Number(m[4]) }));
}
