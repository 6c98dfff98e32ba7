// A debootstrap'd Debian unstable (sid) root under the lab directory: the home of the newest peers (crash,
// drgn, makedumpfile, kexec-tools' vmcore-dmesg) and of the kbuild that builds test modules for the newest kernel
// (sid's kbuild links sid's libc). Programs run in it through chroot with /proc mounted (makedumpfile sizes its
// buffers from /proc/meminfo) and the caller's files bind-mounted read-only at /host. Rebuilt when sid's kernel moves.
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { $ } from "bun";
import { LabError } from "../errors.ts";
import { fetchKernel } from "./kernels.ts";
import { labDir } from "./labdir.ts";
import { buildOnce, withLock } from "./lock.ts";

/** The sid root's packages besides minbase: the peers, and what builds a module against the newest kernel. */
export const SID_PACKAGES = ["crash", "python3-drgn", "makedumpfile", "kexec-tools", "gcc", "make", "xz-utils"];

/** A sid root for the newest kernel line. */
export interface SidRoot {
  /** The root folder. */
  dir: string;
  /** The newest kernel's release, whose headers it holds. */
  release: string;
}

/**
 * The sid root (debootstrap --variant=minbase, ~2 minutes from nothing), cached per newest kernel release.
 * @example const { dir } = await sidRoot(); await inSid(["crash", "--version"])
 */
export async function sidRoot(): Promise<SidRoot> {
  const { release } = await fetchKernel("newest");
  const dir = join(labDir(), "roots", `sid-${release}`);
  const done = join(dir, ".kdump-done");
  return buildOnce(dir, () => (existsSync(done) ? { dir, release } : undefined), async () => {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const include = [...SID_PACKAGES, `linux-headers-${release}`].join(",");
    const r = await $`debootstrap --variant=minbase --include=${include} sid ${dir} http://deb.debian.org/debian`.quiet().nothrow();
    if (r.exitCode !== 0) throw new LabError("debootstrap of the lab's sid root failed", { hint: r.stdout.toString().trim().split("\n").slice(-3).join(" | ") });
    writeFileSync(done, new Date().toISOString() + "\n");
    return { dir, release };
  });
}

/**
 * Runs `argv` in the sid root with /proc mounted and `binds` (host folder → path inside) bind-mounted, then unmounts.
 * Returns the exit code and output; the command runs as root in a private mount namespace (unshare -m).
 */
export async function inSid(argv: string[], binds: Record<string, string> = {}, cwd = "/"): Promise<{ exitCode: number; stdout: Buffer; stderr: string }> {
  const { dir } = await sidRoot();
  const mounts = [`mount -t proc proc ${q(join(dir, "proc"))}`];
  for (const [host, inside] of Object.entries(binds)) {
    mkdirSync(join(dir, inside), { recursive: true });
    mounts.push(`mount --bind ${q(host)} ${q(join(dir, inside))}`);
  }
  const script = `${mounts.join(" && ")} && cd ${q(dir)} && exec chroot ${q(dir)} sh -c ${q(`cd ${q(cwd)} && exec ${argv.map(q).join(" ")}`)}`;
  // unshare -m: the mounts vanish with the process, even when it is killed
  const r = await $`unshare -m --propagation private sh -c ${script}`.quiet().nothrow();
  return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr.toString() };
}

/** Runs `make` for several callers one at a time in the root (kbuild writes into the headers' tree). */
export async function withSidLock<T>(body: () => Promise<T>): Promise<T> {
  const { dir } = await sidRoot();
  return withLock(`${dir}.build`, body);
}

function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
