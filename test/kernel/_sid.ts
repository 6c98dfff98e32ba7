// The newest peers as oracles, run in the lab's sid root (lib/lab/sid_root.ts): kexec-tools' vmcore-dmesg and drgn.
// The dump's and the vmlinux's folders are bind-mounted read-only-in-practice at /host/dump and /host/vmlinux.
import { existsSync, readFileSync, renameSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { inSid } from "../../lib/lab/sid_root.ts";
import { buildOnce } from "../../lib/lab/lock.ts";
import { MATRIX } from "../_matrix.ts";
import { drgnJson } from "./_drgn.ts";

/** sid's vmcore-dmesg output for `vmcore`, cached beside it. */
export async function sidVmcoreDmesg(vmcore: string): Promise<Buffer> {
  const out = join(dirname(vmcore), `${basename(vmcore)}.vmcore-dmesg-sid`);
  await buildOnce(out, () => (existsSync(out) ? out : undefined), async () => {
    const r = await inSid(["/usr/sbin/vmcore-dmesg", `/host/dump/${basename(vmcore)}`], { [dirname(vmcore)]: "/host/dump" });
    if (r.exitCode !== 0) throw new Error(`sid vmcore-dmesg failed: ${r.stderr.slice(-500)}`);
    await Bun.write(`${out}.tmp`, r.stdout);
    renameSync(`${out}.tmp`, out);
    return out;
  });
  return readFileSync(out);
}

/** Runs `body` (Python with `prog` loaded from the dump and the DWARF vmlinux) with sid's drgn; parses stdout as JSON. */
export async function sidDrgnJson<T>(vmlinux: string, vmcore: string, body: string): Promise<T> {
  const script = [
    "import drgn, json",
    "from drgn.helpers.linux import *",
    "prog = drgn.Program()",
    `prog.set_core_dump(${JSON.stringify(`/host/dump/${basename(vmcore)}`)})`,
    `prog.load_debug_info([${JSON.stringify(`/host/vmlinux/${basename(vmlinux)}`)}], default=False)`,
    body,
  ].join("\n");
  const r = await inSid(["/usr/bin/python3", "-c", script], { [dirname(vmcore)]: "/host/dump", [dirname(vmlinux)]: "/host/vmlinux" });
  if (r.exitCode !== 0) throw new Error(`sid drgn failed: ${r.stderr.slice(-1500)}`);
  return JSON.parse(r.stdout.toString()) as T;
}

/** Runs a drgn snippet on a dump: `body` with `prog` loaded from `vmcore` and the DWARF `vmlinux`, stdout as JSON. */
export type DrgnRunner = <T>(vmlinux: string, body: string, vmcore: string) => Promise<T>;

/**
 * The drgn oracles by version: Debian 12's 0.0.22 always, sid's 0.3.0 in the matrix (the sid root is a
 * minutes-long debootstrap).
 */
export const DRGN_PEERS: [string, DrgnRunner][] = [
  ["0.0.22", (vmlinux, body, vmcore) => drgnJson(vmlinux, body, vmcore)],
  ...(MATRIX ? [["0.3.0", (vmlinux: string, body: string, vmcore: string) => sidDrgnJson(vmlinux, vmcore, body)] as [string, DrgnRunner]] : []),
];
