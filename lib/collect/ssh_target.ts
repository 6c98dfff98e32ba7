// The ssh target of `kdump collect`: the flattened stream through the system ssh client, with batch mode (no
// password prompt nobody can answer) and strict host key checking; the remote side renames the file only when
// the stream ended with its end marker, and never over a dump. The log goes first in a connection of its own.
import { UsageError } from "../errors.ts";
import { FlatSink } from "../dump/flat_writer.ts";
import { bunSinkStream } from "../dump/sink.ts";
import type { Target } from "../config/target.ts";
import type { Output, TargetSys } from "./target.ts";

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** ssh with batch mode and strict host key checking: it never asks a question nobody can answer. */
function sshCommand(t: Extract<Target, { kind: "ssh" }>, remote: string): string[] {
  return ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", ...(t.port ? ["-p", String(t.port)] : []), t.dest, remote];
}

/**
 * The remote shell command that saves a flattened stream from stdin as `<dir>/<file>`: written as
 * `<file>-incomplete`, renamed only when the stream ended with the flattened end marker (a cut connection leaves it
 * incomplete), never over an existing dump. `kdump collect` and the capture init both send it.
 * @example remoteSaveCommand("/srv/crash/lab-2026-12-01-12:00:00", "vmcore.flat")
 */
export function remoteSaveCommand(dir: string, file: string): string {
  const partial = `${dir}/${file}-incomplete`;
  const final = `${dir}/${file}`;
  const marker = "ff".repeat(16);
  return [
    `umask 077`,
    `mkdir -p ${q(dir)}`,
    `test ! -e ${q(final)}`,
    `cat > ${q(partial)}`,
    `test "$(tail -c 16 ${q(partial)} | od -An -tx1 | tr -d ' \\n')" = ${marker}`,
    `sync`,
    `mv ${q(partial)} ${q(final)}`,
  ].join(" && ");
}

/** Opens an ssh output: the stream through `remoteSaveCommand`, the log and a failure's reason in connections of their own. */
export async function sshOutput(t: Extract<Target, { kind: "ssh" }>, name: string, file: string, sys: TargetSys): Promise<Output> {
  const dir = `${t.path.replace(/\/+$/, "")}/${name}`;
  const partial = `${dir}/${file}-incomplete`;
  const final = `${dir}/${file}`;
  const remote = remoteSaveCommand(dir, file);
  const p = sys.spawn(sshCommand(t, remote));
  const sink = new FlatSink(bunSinkStream(p.stdin));
  const sendText = async (path: string, text: string) => {
    const s = sys.spawn(sshCommand(t, `umask 077 && mkdir -p ${q(dir)} && cat > ${q(path)}`));
    await s.stdin.write(Buffer.from(text, "latin1"));
    await s.stdin.end();
    if ((await s.exited) !== 0) throw new UsageError(`ssh ${t.dest} refused ${path}: ${(await s.stderr()).trim()}`, { hint: "check the key (BatchMode: no passwords) and known_hosts" });
  };
  return {
    where: `${t.dest}:${final}`,
    sink,
    free: null,
    writeDmesg: (text) => sendText(`${dir}/vmcore-dmesg.txt`, text),
    async complete() {
      await sink.finish();
      const code = await p.exited;
      if (code !== 0) throw new UsageError(`ssh ${t.dest} did not save the dump (exit ${code}): ${(await p.stderr()).trim()}`, { hint: "the remote copy stays as " + partial });
      return `${t.dest}:${final}`;
    },
    async fail(reason) {
      p.kill();
      await sendText(`${partial}.reason`, `${reason}\n`).catch(() => {});
      return `${t.dest}:${partial}`;
    },
  };
}
