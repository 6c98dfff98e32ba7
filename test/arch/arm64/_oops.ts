// The out-of-tree test module (test/lab/fixtures/oops_module) cross-built for a lab arm64 kernel on this x86_64
// host: Debian's arm64 linux-headers-<release> and its -common tree (from the arm64 package lists), the amd64
// linux-kbuild of the same version (the arm64 one's fixdep and modpost are arm64 binaries) and bookworm's
// gcc-aarch64-linux-gnu (gcc-12, the compiler Debian built the bookworm arm64 kernels with). Sid's 7.x: its kbuild
// links sid's libc, so the module is built in the lab's sid root, whose amd64 linux-kbuild of the same version serves
// the arm64 headers, with sid's cross gcc (gcc-16-aarch64-linux-gnu and binutils, unpacked beside it, not installed)
// bind-mounted in. Cached under `.lab/headers-arm64/`, `.lab/cross-arm64/` and `.lab/oops/`.
import { cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { $ } from "bun";
import { LabError } from "../../../lib/errors.ts";
import { aptSuite } from "../../../lib/lab/apt.ts";
import { ARM64_KERNEL_LINES, fetchKernel } from "../../../lib/lab/kernels.ts";
import { labDir } from "../../../lib/lab/labdir.ts";
import { buildOnce } from "../../../lib/lab/lock.ts";
import { inSid, sidRoot, withSidLock } from "../../../lib/lab/sid_root.ts";
import { moduleHash } from "../../analyze/_oops.ts";

const SOURCE = join(import.meta.dir, "..", "..", "lab", "fixtures", "oops_module");
const CROSS_GCC = "aarch64-linux-gnu-gcc-12";

/** The arm64 headers of `release` with the amd64 kbuild of its version, unpacked into one root; returns the build dir. */
async function arm64Headers(release: string, suite: string): Promise<string> {
  const root = join(labDir(), "headers-arm64", release);
  const build = join(root, "usr/src", `linux-headers-${release}`);
  return buildOnce(root, () => (existsSync(join(root, ".done")) ? build : undefined), async () => {
    const version = release.replace(/-cloud-arm64$|-arm64$/, "");
    const tmp = `${root}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(join(tmp, "debs"), { recursive: true });
    const apt = await aptSuite(suite);
    const arm = await $`apt-get ${apt} download linux-headers-${release} linux-headers-${version}-common`.cwd(join(tmp, "debs")).quiet().nothrow();
    // the kbuild the headers depend on (linux-kbuild-6.1, linux-kbuild-6.12.117+deb12), at the headers' version
    const deps = (await $`apt-cache ${apt} depends linux-headers-${release}`.quiet().nothrow()).stdout.toString();
    const kbuild = /Depends: (linux-kbuild-\S+)/.exec(deps)?.[1] ?? `linux-kbuild-${version}`;
    const deb = readdirSync(join(tmp, "debs")).find((f) => f.startsWith(`linux-headers-${release}_`));
    const at = deb ? `=${decodeURIComponent(deb.split("_")[1]!).replace("%3a", ":")}` : "";
    const amd = await $`apt-get download ${kbuild + at}`.cwd(join(tmp, "debs")).quiet().nothrow();
    if (arm.exitCode !== 0 || amd.exitCode !== 0)
      throw new LabError(`downloading linux-headers-${release} (arm64) and ${kbuild}${at} (amd64) failed`, { hint: `${arm.stderr.toString().trim()} ${amd.stderr.toString().trim()}`.trim() || "run apt-get update" });
    for (const deb of readdirSync(join(tmp, "debs"))) await $`dpkg-deb -x ${join(tmp, "debs", deb)} ${join(tmp, "x")}`.quiet();
    rmSync(root, { recursive: true, force: true });
    renameSync(join(tmp, "x"), root);
    rmSync(tmp, { recursive: true, force: true });
    // the flavour's Makefile includes the -common one by its absolute /usr/src path: point it at our copy
    writeFileSync(join(build, "Makefile"), `include ${join(root, "usr/src", `linux-headers-${version}-common`, "Makefile")}\n`);
    writeFileSync(join(root, ".done"), "");
    return build;
  });
}

/**
 * oops.ko for the arm64 kernel of a bookworm line ("6.1", "6.12"), built once under `.lab/oops/<release>-<hash>/`.
 * @example await arm64OopsModule("6.12") // ".lab/oops/6.12.117+deb12-cloud-arm64-1a2b3c4d/oops.ko"
 */
export async function arm64OopsModule(line: string): Promise<string> {
  const { release } = await fetchKernel(line, "arm64");
  const suite = ARM64_KERNEL_LINES[line]!.suite;
  const dir = join(labDir(), "oops", `${release}-${moduleHash(SOURCE)}`);
  const ko = join(dir, "oops.ko");
  if (existsSync(ko)) return ko;
  if (suite === "sid-arm64") return buildOnce(dir, () => (existsSync(ko) ? ko : undefined), () => makeInSid(release, dir, ko));
  if (suite !== "bookworm-arm64") throw new LabError(`cross-building modules for the arm64 ${line} line (${suite}) is not done`, { hint: "add its compiler to test/arch/arm64/_oops.ts" });
  if ((await $`which ${CROSS_GCC}`.quiet().nothrow()).exitCode !== 0) throw new LabError(`${CROSS_GCC} not found`, { hint: "apt-get install gcc-aarch64-linux-gnu" });
  const build = await arm64Headers(release, suite);
  return buildOnce(dir, () => (existsSync(ko) ? ko : undefined), async () => {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    cpSync(SOURCE, dir, { recursive: true });
    // the headers' .kernelvariables set ARCH=arm64 and CROSS_COMPILE=aarch64-linux-gnu-; no module BTF (no pahole)
    const r = await $`make -C ${build} M=${dir} ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- CONFIG_DEBUG_INFO_BTF_MODULES= modules`.quiet().nothrow();
    if (r.exitCode !== 0 || !existsSync(ko)) throw new LabError(`cross-building oops.ko for ${release} failed`, { hint: r.stderr.toString().trim().split("\n").slice(-3).join(" / ") });
    return ko;
  });
}

/** Sid's packages that cross-compile for arm64 (amd64 binaries; the sid root has their other libraries). */
const SID_CROSS = ["gcc-16-aarch64-linux-gnu", "cpp-16-aarch64-linux-gnu", "gcc-16-aarch64-linux-gnu-base", "binutils-aarch64-linux-gnu", "libgcc-16-dev-arm64-cross"];

/** Sid's cross toolchain and the arm64 headers of `release`, unpacked into one folder (not installed anywhere). */
async function sidCross(release: string): Promise<string> {
  const root = join(labDir(), "cross-arm64", release);
  return buildOnce(root, () => (existsSync(join(root, ".done")) ? root : undefined), async () => {
    const tmp = `${root}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(join(tmp, "debs"), { recursive: true });
    const gcc = await $`apt-get ${await aptSuite("sid")} download ${SID_CROSS}`.cwd(join(tmp, "debs")).quiet().nothrow();
    const hdr = await $`apt-get ${await aptSuite("sid-arm64")} download linux-headers-${release}`.cwd(join(tmp, "debs")).quiet().nothrow();
    if (gcc.exitCode !== 0 || hdr.exitCode !== 0)
      throw new LabError(`downloading sid's ${SID_CROSS.join(" ")} and linux-headers-${release} (arm64) failed`, { hint: `${gcc.stderr.toString().trim()} ${hdr.stderr.toString().trim()}`.trim() });
    for (const deb of readdirSync(join(tmp, "debs"))) await $`dpkg-deb -x ${join(tmp, "debs", deb)} ${join(tmp, "x")}`.quiet();
    rmSync(root, { recursive: true, force: true });
    renameSync(join(tmp, "x"), root);
    rmSync(tmp, { recursive: true, force: true });
    writeFileSync(join(root, ".done"), "");
    return root;
  });
}

/**
 * Builds oops.ko in the sid root: the arm64 headers bind-mounted where their Makefile and scripts link expect them
 * (/usr/src, beside the root's -common tree and amd64 linux-kbuild), the cross toolchain at /cross.
 */
async function makeInSid(release: string, dir: string, ko: string): Promise<string> {
  const root = await sidRoot();
  const version = release.replace(/-cloud-arm64$|-arm64$/, "");
  if (!root.release.startsWith(`${version}-`)) throw new LabError(`the sid root holds kbuild ${root.release}, not ${version}`, { hint: "rebuild the sid root (lib/lab/sid_root.ts) after sid's kernel moved" });
  const cross = await sidCross(release);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  cpSync(SOURCE, dir, { recursive: true });
  const headers = `/usr/src/linux-headers-${release}`;
  const r = await withSidLock(() =>
    inSid(
      ["env", "PATH=/cross/usr/bin:/usr/bin:/bin", "LD_LIBRARY_PATH=/cross/usr/lib/x86_64-linux-gnu", "make", "-C", headers, "M=/build", "ARCH=arm64", "CROSS_COMPILE=aarch64-linux-gnu-", "CONFIG_DEBUG_INFO_BTF_MODULES=", "modules"],
      { [cross]: "/cross", [join(cross, headers)]: headers, [dir]: "/build" },
    ),
  );
  if (r.exitCode !== 0 || !existsSync(ko)) throw new LabError(`cross-building oops.ko for ${release} in the sid root failed`, { hint: r.stderr.trim().split("\n").slice(-3).join(" / ") });
  return ko;
}
