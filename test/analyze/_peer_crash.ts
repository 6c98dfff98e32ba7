// crash as an oracle for the data commands, with the crash binary a parameter: Debian 12's crash 8.0.2 by default
// (it opens the 6.1 lab dumps only), KDUMP_PEER_CRASH=/path/to/crash, or KDUMP_PEER_CRASH=sid: crash 9.0.2 run in the
// lab's sid root (lib/lab/sid_root.ts), which opens 6.12 too (KDUMP_PEER_CRASH_LINES="6.1 6.12" says which lines
// the binary can read; "sid" defaults to both). One crash run per
// command list, cached beside the dump under a key of the binary and the commands; each command's output is
// split out by a marker line.
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { $ } from "bun";
import { buildOnce } from "../../lib/lab/lock.ts";
import { inSid } from "../../lib/lab/sid_root.ts";

/** The crash binary the comparisons run. */
export const PEER_CRASH = process.env.KDUMP_PEER_CRASH ?? "crash";

/** The kernel lines that crash binary can open (crash 8.0.2: 6.1 only). */
export const PEER_CRASH_LINES: string[] = (process.env.KDUMP_PEER_CRASH_LINES ?? (PEER_CRASH === "sid" ? "6.1 6.12" : "6.1")).split(/\s+/).filter(Boolean);

const MARK = 987654321;

/** crash's output of each of `commands` on `vmcore` with `vmlinux`, by command. */
export async function crashEach(vmcore: string, vmlinux: string, commands: string[], bin = PEER_CRASH): Promise<Map<string, string>> {
  const key = new Bun.CryptoHasher("sha256").update(bin + "\n" + commands.join("\n")).digest("hex").slice(0, 8);
  const out = join(dirname(vmcore), `crash-each-${key}.txt`);
  const text = await buildOnce(out, () => (existsSync(out) ? readFileSync(out, "utf8") : undefined), async () => {
    const cmds = `${out}.cmds`;
    writeFileSync(cmds, [...commands.flatMap((c) => [`p ${MARK}`, c]), `p ${MARK}`, "quit", ""].join("\n"));
    const r =
      bin === "sid"
        ? await inSid(["crash", "-s", `/host/vmlinux/${basename(vmlinux)}`, `/host/dump/${basename(vmcore)}`, "-i", `/host/dump/${basename(cmds)}`], { [dirname(vmlinux)]: "/host/vmlinux", [dirname(vmcore)]: "/host/dump" })
        : await $`${bin} -s ${vmlinux} ${vmcore} -i ${cmds}`.quiet().nothrow();
    rmSync(cmds);
    if (r.exitCode !== 0) throw new Error(`${bin} failed (is crash installed?): ${r.stderr.toString().slice(-500)}`);
    writeFileSync(`${out}.tmp`, r.stdout);
    renameSync(`${out}.tmp`, out);
    return r.stdout.toString();
  });
  const parts = text.split(new RegExp(`\\$\\d+ = ${MARK}\\n`)) // not only at a line's start: some outputs end without a newline;
  const map = new Map<string, string>();
  commands.forEach((c, i) => map.set(c, parts[i + 1] ?? ""));
  return map;
}
