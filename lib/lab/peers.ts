// Peer tools the lab compares against, unpacked from Debian packages without installing them (so nothing is
// set up to run at boot): kexec-tools' kexec and vmcore-dmesg, and sid's arm64 kexec-tools, busybox and crash. Cached under
// the lab directory.
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { $ } from "bun";
import { LabError } from "../errors.ts";
import { aptSuite } from "./apt.ts";
import { labDir } from "./labdir.ts";
import { buildOnce } from "./lock.ts";

/**
 * Unpacks a Debian package into `.lab/pkgs/<name>/` (apt-get download + dpkg-deb -x) and returns that folder.
 * @example join(await debianPackage("kexec-tools"), "sbin/vmcore-dmesg")
 */
export async function debianPackage(name: string, suite = "bookworm"): Promise<string> {
  return debianPackages(name, [name], suite);
}

/** Unpacks several packages of `suite` together into `.lab/pkgs/[<suite>/]<folder>/` and returns that folder. */
export async function debianPackages(folder: string, names: string[], suite = "bookworm"): Promise<string> {
  const dest = suite === "bookworm" ? join(labDir(), "pkgs", folder) : join(labDir(), "pkgs", suite, folder);
  return buildOnce(dest, () => (existsSync(join(dest, ".done")) ? dest : undefined), async () => unpackPackage(names, dest, await aptSuite(suite)));
}

async function unpackPackage(name: string[], dest: string, apt: string[]): Promise<string> {
  const tmp = `${dest}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    const dl = await $`apt-get ${apt} download ${name}`.cwd(tmp).quiet().nothrow();
    if (dl.exitCode !== 0) throw new LabError(`apt-get download ${name.join(" ")} failed`, { hint: "run `apt-get update` first (as root)" });
    for (const deb of readdirSync(tmp).filter((f) => f.endsWith(".deb"))) await $`dpkg-deb -x ${join(tmp, deb)} ${join(tmp, "x")}`.quiet();
    await $`touch ${join(tmp, "x", ".done")}`.quiet();
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

/**
 * The arm64 peers for arm64 guests, from sid's arm64 packages, in one tree: busybox (busybox-static), kexec-tools
 * 2.0.32's kexec and vmcore-dmesg, and the shared libraries they link (the Depends closure's lib* packages), so the
 * tree can be copied onto an arm64 guest's root as it is.
 */
export async function arm64Peers(): Promise<{ root: string; busybox: string; kexec: string; vmcoreDmesg: string }> {
  const apt = await aptSuite("sid-arm64");
  const deps = (await $`apt-cache ${apt} depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances kexec-tools`.quiet().nothrow()).stdout.toString();
  const libs = [...new Set(deps.split("\n").filter((l) => /^(lib\S+|zlib1g)$/.test(l.trim())).map((l) => l.trim()))].sort();
  const root = await debianPackages("arm64-peers", ["busybox-static", "kexec-tools", ...libs], "sid-arm64");
  return { root, busybox: join(root, "usr/bin/busybox"), kexec: join(root, "usr/sbin/kexec"), vmcoreDmesg: join(root, "usr/sbin/vmcore-dmesg") };
}

/**
 * sid's arm64 `crash` (9.0.2) with its Depends closure (libc6, libstdc++6, binutils, ...) unpacked into one tree that
 * serves as a `qemu-aarch64 -L` sysroot on an x86_64 host: Debian builds crash for its host architecture only, so
 * this is how the lab runs the arm64 crash on our arm64 dumps. The tree gets `lib -> usr/lib` (the ELF
 * interpreter is /lib/ld-linux-aarch64.so.1; merged-/usr packages ship only usr/lib).
 * @example await $`qemu-aarch64 -L ${c.root} ${c.crash} -s ${vmlinux} ${dump}`
 */
export async function arm64Crash(): Promise<{ root: string; crash: string }> {
  const apt = await aptSuite("sid-arm64");
  const deps = (await $`apt-cache ${apt} depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances crash`.quiet().nothrow()).stdout.toString();
  // the closure's real packages (apt-cache prints virtual ones as <name>, and indents the dependency lines)
  const pkgs = [...new Set(deps.split("\n").filter((l) => /^[a-z0-9][a-z0-9.+-]+$/.test(l)))].sort();
  if (!pkgs.includes("crash")) throw new LabError("sid's arm64 lists have no crash package", { hint: `apt-cache ${apt.join(" ")} policy crash` });
  const root = await debianPackages("arm64-crash", pkgs, "sid-arm64");
  try {
    symlinkSync("usr/lib", join(root, "lib"));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
  return { root, crash: join(root, "usr/bin/crash") };
}
