// Kernels for the lab: Debian cloud kernels from the Debian registry (apt-get download + dpkg-deb -x), cached under
// the lab directory, or a user's own vmlinuz and modules. 5.10 comes from bullseye and the newest from sid, through
// the lab's private apt configuration (lib/lab/apt.ts). Two package layouts: up to 6.x one linux-image package with
// /boot/vmlinuz-R and /lib/modules/R; from 7.x (kernel-install's layout) linux-image-R is empty and depends on
// linux-binary-R (/usr/lib/modules/R/vmlinuz), linux-modules-R and linux-base-R (config, System.map).
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { $ } from "bun";
import { LabError } from "../errors.ts";
import { aptSuite } from "./apt.ts";
import type { ArchName } from "../arch/arch.ts";
import { labDir } from "./labdir.ts";
import { buildOnce } from "./lock.ts";

/** A kernel the lab can boot. */
export interface LabKernel {
  /** The kernel line, e.g. "5.10", "6.1", "6.12", "newest", or "custom". */
  line: string;
  /** uname -r of the kernel, e.g. "6.1.0-56-cloud-amd64". */
  release: string;
  /** The bzImage. */
  vmlinuz: string;
  /** Its .config, or null when unknown. */
  config: string | null;
  /** /lib/modules/RELEASE of this kernel. */
  modulesDir: string;
  /** Where a distro installs it: "boot" (/boot/vmlinuz-R) or "usr" (/usr/lib/modules/R/vmlinuz, kernel-install's). */
  layout?: "boot" | "usr";
  /** The Debian package it came from, when it did. */
  package?: string;
  /** Its architecture (lib/arch); absent means x86_64. */
  arch?: ArchName;
}

/** The Debian suite and meta-package (`name` or `name/release`) that name the current kernel of each line. */
export const KERNEL_LINES: Record<string, { suite: string; meta: string }> = {
  /**
   * bullseye's last point release (11.11, 5.10.223): its pool keeps the kernel, its headers and its -dbg package.
   * bullseye-security's newer 5.10 kernels are listed with -dbg packages the registry answers 404 for (2026-12-01:
   * 5.10.0-44, -45 and -46), so drgn could not be checked against them.
   */
  "5.10": { suite: "bullseye", meta: "linux-image-cloud-amd64/bullseye" },
  "6.1": { suite: "bookworm", meta: "linux-image-cloud-amd64" },
  "6.12": { suite: "bookworm", meta: "linux-image-6.12-cloud-amd64" },
  /** sid's current kernel (7.x today), resolved from sid's package lists at fetch time. */
  newest: { suite: "sid", meta: "linux-image-cloud-amd64" },
};

/**
 * The arm64 lines: Debian's arm64 cloud kernels, from private arm64 package lists (lib/lab/apt.ts). 7.x first: on
 * 6.1 kexec-tools' capture fails in QEMU (DESIGN.md).
 */
export const ARM64_KERNEL_LINES: Record<string, { suite: string; meta: string }> = {
  "6.1": { suite: "bookworm-arm64", meta: "linux-image-cloud-arm64" },
  "6.12": { suite: "bookworm-arm64", meta: "linux-image-6.12-cloud-arm64" },
  newest: { suite: "sid-arm64", meta: "linux-image-cloud-arm64" },
};

/** The kernel lines of each architecture. */
export const LAB_KERNEL_LINES: Record<ArchName, Record<string, { suite: string; meta: string }>> = { x86_64: KERNEL_LINES, arm64: ARM64_KERNEL_LINES };

/**
 * A Debian cloud kernel of the given line and architecture, downloaded once and cached under `.lab/kernels/`.
 * @example const k = await fetchKernel("6.12"); k.release // "6.12.117+deb12-cloud-amd64"
 */
export async function fetchKernel(line: string, arch: ArchName = "x86_64"): Promise<LabKernel> {
  const lines = LAB_KERNEL_LINES[arch];
  const spec = lines[line];
  if (!spec) throw new LabError(`unknown ${arch} kernel line ${line}`, { hint: `choose one of ${Object.keys(lines).join(", ")}` });
  const dir = join(labDir(), "kernels");
  // a meta-package taken from one release pins the kernel under its own name: a pin made from the whole suite
  // (another kernel) is not reused for it
  const from = spec.meta.split("/")[1];
  const name = from ? `${line}-${from}` : line;
  const pin = join(dir, arch === "x86_64" ? `${name}.json` : `${arch}-${name}.json`);
  mkdirSync(dir, { recursive: true });
  const pinned = () => {
    if (!existsSync(pin)) return undefined;
    const k = JSON.parse(readFileSync(pin, "utf8")) as LabKernel;
    return existsSync(k.vmlinuz) && existsSync(k.modulesDir) ? k : undefined;
  };
  // a moving suite is resolved again on each fetch (its lists are refreshed daily): the pin holds while it matches
  const apt = await aptSuite(spec.suite);
  const moving = spec.suite.startsWith("sid");
  const pkg = moving ? await resolvePackage(spec.meta, apt) : undefined;
  const current = () => {
    const k = pinned();
    return k && (!pkg || k.package === pkg) ? k : undefined;
  };
  return buildOnce(pin, current, async () => {
    const k = await unpackKernel(pkg ?? (await resolvePackage(spec.meta, apt)), line, dir, apt);
    if (arch !== "x86_64") k.arch = arch;
    writeFileSync(`${pin}.tmp`, JSON.stringify(k, null, 2));
    renameSync(`${pin}.tmp`, pin);
    return k;
  });
}

/** The linux-image package a meta-package depends on (its "Depends: linux-image-…"). */
async function resolvePackage(meta: string, apt: string[]): Promise<string> {
  const r = await $`apt-cache ${apt} depends ${meta}`.quiet().nothrow();
  const m = /Depends:\s+(linux-image-\S+)/.exec(r.stdout.toString());
  if (r.exitCode !== 0 || !m)
    throw new LabError(`cannot resolve ${meta} in the Debian package lists`, { hint: "run `apt-get update` first (as root)" });
  return m[1]!;
}

/** The packages that carry a linux-image package's files: itself, and from 7.x its linux-{base,binary,modules} twins. */
async function kernelPackages(pkg: string, apt: string[]): Promise<string[]> {
  const suffix = pkg.slice("linux-image-".length);
  const out = (await $`apt-cache ${apt} depends ${pkg}`.quiet().nothrow()).stdout.toString();
  const twins = [...out.matchAll(/Depends:\s+(linux-(?:base|binary|modules)-\S+)/g)].map((m) => m[1]!).filter((n) => n.endsWith(`-${suffix}`));
  return [pkg, ...new Set(twins)];
}

/** Downloads a kernel's packages and unpacks them together into `<dir>/<release>/`. */
async function unpackKernel(pkg: string, line: string, dir: string, apt: string[]): Promise<LabKernel> {
  const tmp = join(dir, `.download-${process.pid}-${line}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    const pkgs = await kernelPackages(pkg, apt);
    const dl = await $`apt-get ${apt} download ${pkgs}`.cwd(tmp).quiet().nothrow();
    if (dl.exitCode !== 0) throw new LabError(`apt-get download ${pkgs.join(" ")} failed`, { hint: dl.stderr.toString().trim().split("\n").pop() });
    const x = join(tmp, "x");
    for (const deb of readdirSync(tmp).filter((f) => f.endsWith(".deb"))) await $`dpkg-deb -x ${join(tmp, deb)} ${x}`.quiet();
    const usr = existsSync(join(x, "usr/lib/modules"));
    const modules = usr ? "usr/lib/modules" : "lib/modules";
    const release = readdirSync(join(x, modules))[0]!;
    const dest = join(dir, release);
    rmSync(dest, { recursive: true, force: true });
    renameSync(x, dest);
    const modulesDir = join(dest, modules, release);
    return {
      line,
      release,
      vmlinuz: usr ? join(modulesDir, "vmlinuz") : join(dest, "boot", `vmlinuz-${release}`),
      config: usr ? join(modulesDir, "config") : join(dest, "boot", `config-${release}`),
      modulesDir,
      layout: usr ? "usr" : "boot",
      package: pkg,
    };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
