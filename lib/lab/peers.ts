// Peer tools the lab compares against, unpacked from Debian packages without installing them (so nothing is
// set up to run at boot): kexec-tools' kexec and vmcore-dmesg. Cached under the lab directory.
import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { $ } from "bun";
import { LabError } from "../errors.ts";
import { labDir } from "./labdir.ts";
import { buildOnce } from "./lock.ts";

/**
 * Unpacks a Debian package into `.lab/pkgs/<name>/` (apt-get download + dpkg-deb -x) and returns that folder.
 * @example join(await debianPackage("kexec-tools"), "sbin/vmcore-dmesg")
 */
export async function debianPackage(name: string): Promise<string> {
  const dest = join(labDir(), "pkgs", name);
  return buildOnce(dest, () => (existsSync(join(dest, ".done")) ? dest : undefined), () => unpackPackage(name, dest));
}

async function unpackPackage(name: string, dest: string): Promise<string> {
  const tmp = `${dest}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    const dl = await $`apt-get download ${name}`.cwd(tmp).quiet().nothrow();
    if (dl.exitCode !== 0) throw new LabError(`apt-get download ${name} failed`, { hint: "run `apt-get update` first (as root)" });
    const deb = readdirSync(tmp).find((f) => f.endsWith(".deb"))!;
    await $`dpkg-deb -x ${join(tmp, deb)} ${join(tmp, "x")} && touch ${join(tmp, "x", ".done")}`.quiet();
    rmSync(dest, { recursive: true, force: true });
    await $`mv ${join(tmp, "x")} ${dest}`.quiet();
    return dest;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Paths of kexec-tools' programs on this machine (unpacked from the registry). */
export async function kexecTools(): Promise<{ kexec: string; vmcoreDmesg: string }> {
  const d = await debianPackage("kexec-tools");
  return { kexec: join(d, "sbin/kexec"), vmcoreDmesg: join(d, "sbin/vmcore-dmesg") };
}
