// Kernels for the lab: Debian cloud kernels from the Debian registry (apt-get download + dpkg-deb -x),
// cached under the lab directory, or a user's own vmlinuz and modules.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { $ } from "bun";
import { LabError } from "../errors.ts";
import { labDir } from "./labdir.ts";
import { buildOnce } from "./lock.ts";

/** A kernel the lab can boot. */
export interface LabKernel {
  /** The kernel line, e.g. "6.1" or "6.12", or "custom". */
  line: string;
  /** uname -r of the kernel, e.g. "6.1.0-56-cloud-amd64". */
  release: string;
  /** The bzImage. */
  vmlinuz: string;
  /** Its .config, or null when unknown. */
  config: string | null;
  /** /lib/modules/RELEASE of this kernel. */
  modulesDir: string;
  /** The Debian package it came from, when it did. */
  package?: string;
}

/** The Debian meta-packages that name the current kernel of each line. */
export const KERNEL_LINES: Record<string, string> = {
  "6.1": "linux-image-cloud-amd64",
  "6.12": "linux-image-6.12-cloud-amd64",
};

/**
 * A Debian cloud kernel of the given line, downloaded once and cached under `.lab/kernels/`.
 * @example const k = await fetchKernel("6.12"); k.release // "6.12.117+deb12-cloud-amd64"
 */
export async function fetchKernel(line: string): Promise<LabKernel> {
  const meta = KERNEL_LINES[line];
  if (!meta) throw new LabError(`unknown kernel line ${line}`, { hint: `choose one of ${Object.keys(KERNEL_LINES).join(", ")}` });
  const dir = join(labDir(), "kernels");
  const pin = join(dir, `${line}.json`);
  mkdirSync(dir, { recursive: true });
  const pinned = () => {
    if (!existsSync(pin)) return undefined;
    const k = JSON.parse(readFileSync(pin, "utf8")) as LabKernel;
    return existsSync(k.vmlinuz) && existsSync(k.modulesDir) ? k : undefined;
  };
  return buildOnce(pin, pinned, async () => {
    const pkg = await resolvePackage(meta);
    const k = await unpackKernel(pkg, line, dir);
    writeFileSync(`${pin}.tmp`, JSON.stringify(k, null, 2));
    renameSync(`${pin}.tmp`, pin);
    return k;
  });
}

/** The linux-image package a meta-package depends on (its "Depends: linux-image-…"). */
async function resolvePackage(meta: string): Promise<string> {
  const r = await $`apt-cache depends ${meta}`.quiet().nothrow();
  const m = /Depends:\s+(linux-image-\S+)/.exec(r.stdout.toString());
  if (r.exitCode !== 0 || !m)
    throw new LabError(`cannot resolve ${meta} in the Debian package lists`, { hint: "run `apt-get update` first (as root)" });
  return m[1]!;
}

/** Downloads a linux-image package and unpacks it into `<dir>/<release>/`. */
async function unpackKernel(pkg: string, line: string, dir: string): Promise<LabKernel> {
  const tmp = join(dir, `.download-${process.pid}-${line}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    const dl = await $`apt-get download ${pkg}`.cwd(tmp).quiet().nothrow();
    if (dl.exitCode !== 0) throw new LabError(`apt-get download ${pkg} failed`, { hint: dl.stderr.toString().trim().split("\n").pop() });
    const deb = readdirSync(tmp).find((f) => f.endsWith(".deb"))!;
    const x = join(tmp, "x");
    await $`dpkg-deb -x ${join(tmp, deb)} ${x}`.quiet();
    const release = readdirSync(join(x, "lib/modules"))[0]!;
    const dest = join(dir, release);
    rmSync(dest, { recursive: true, force: true });
    renameSync(x, dest);
    return {
      line,
      release,
      vmlinuz: join(dest, "boot", `vmlinuz-${release}`),
      config: join(dest, "boot", `config-${release}`),
      modulesDir: join(dest, "lib/modules", release),
      package: pkg,
    };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
