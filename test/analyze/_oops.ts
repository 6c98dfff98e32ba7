// The out-of-tree test module (test/lab/fixtures/oops_module) built against Debian's linux-headers packages of a
// lab kernel with the installed gcc (the newest line's inside the sid root: its kbuild needs sid's libc), and a lab
// dump of a kernel that oopsed while loading it (panic_on_oops).
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { $ } from "bun";
import { LabError } from "../../lib/errors.ts";
import { aptSuite } from "../../lib/lab/apt.ts";
import { fetchKernel, KERNEL_LINES } from "../../lib/lab/kernels.ts";
import { inSid, sidRoot, withSidLock } from "../../lib/lab/sid_root.ts";
import { labDir } from "../../lib/lab/labdir.ts";
import { buildOnce } from "../../lib/lab/lock.ts";
import { labDump, type LabDump } from "../lab/dumps.ts";

const SOURCE = join(import.meta.dir, "..", "lab", "fixtures", "oops_module");

/** A short hash of the module's source, so a changed module gets a new build and new dumps. */
function sourceHash(source = SOURCE): string {
  const h = new Bun.CryptoHasher("sha256");
  for (const f of readdirSync(source).sort()) h.update(f).update(readFileSync(join(source, f)));
  return h.digest("hex").slice(0, 8);
}

/** linux-headers-<release> with its -common and linux-kbuild dependencies, unpacked into one root. */
async function headers(release: string, apt: string[]): Promise<string> {
  const root = join(labDir(), "headers", release);
  const build = join(root, "usr/src", `linux-headers-${release}`);
  return buildOnce(root, () => (existsSync(join(root, ".done")) ? build : undefined), () => unpackHeaders(release, root, build, apt));
}

async function unpackHeaders(release: string, root: string, build: string, apt: string[]): Promise<string> {
  const tmp = `${root}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(join(tmp, "debs"), { recursive: true });
  const deps = (await $`apt-cache ${apt} depends linux-headers-${release}`.quiet().nothrow()).stdout.toString();
  const pkgs = [`linux-headers-${release}`, ...[...deps.matchAll(/Depends: (linux-(?:headers|kbuild)-\S+)/g)].map((m) => m[1]!)];
  const dl = await $`apt-get ${apt} download ${pkgs}`.cwd(join(tmp, "debs")).quiet().nothrow();
  if (dl.exitCode !== 0) throw new LabError(`apt-get download ${pkgs.join(" ")} failed`, { hint: "run `apt-get update` first (as root)" });
  for (const deb of readdirSync(join(tmp, "debs"))) await $`dpkg-deb -x ${join(tmp, "debs", deb)} ${join(tmp, "x")}`.quiet();
  // The flavour's Makefile includes the -common one by its absolute /usr/src path: point it at our copy.
  const common = readdirSync(join(tmp, "x/usr/src")).find((d) => d.startsWith("linux-headers-") && d.endsWith("-common"));
  if (!common) throw new LabError(`linux-headers-${release} has no -common tree`);
  rmSync(root, { recursive: true, force: true });
  renameSync(join(tmp, "x"), root);
  rmSync(tmp, { recursive: true, force: true });
  writeFileSync(join(build, "Makefile"), `include ${join(root, "usr/src", common, "Makefile")}\n`);
  writeFileSync(join(root, ".done"), "");
  return build;
}

/** oops.ko for a lab kernel line, built once under `.lab/oops/<release>-<source hash>/`. */
export async function oopsModule(line: string): Promise<string> {
  return labModule(line, SOURCE, "oops");
}

/**
 * `name`.ko from the fixture folder `source` for a lab kernel line, built once under `.lab/<name>/<release>-<hash>/`:
 * in the sid root for sid's kernels (their kbuild needs sid's libc), with bookworm's gcc for bullseye's.
 */
export async function labModule(line: string, source: string, name: string): Promise<string> {
  const { release } = await fetchKernel(line);
  const dir = join(labDir(), name, `${release}-${sourceHash(source)}`);
  const ko = join(dir, `${name}.ko`);
  if (existsSync(ko)) return ko;
  const suite = KERNEL_LINES[line]!.suite;
  if (suite === "sid") return buildOnce(dir, () => (existsSync(ko) ? ko : undefined), () => makeModuleInSid(release, dir, ko, source));
  const build = await headers(release, await aptSuite(suite));
  // bullseye's kbuild asks for gcc-10, which bookworm lacks: its gcc builds the test module as well
  const cc = suite === "bullseye" ? ["CC=gcc"] : [];
  return buildOnce(dir, () => (existsSync(ko) ? ko : undefined), () => makeModule(release, build, dir, ko, source, cc));
}

/** The short hash of a fixture module's source (dump scenario names carry it). */
export const moduleHash = sourceHash;

/** Builds a fixture module in the sid root against its linux-headers-<release> (installed by debootstrap). */
async function makeModuleInSid(release: string, dir: string, ko: string, source: string): Promise<string> {
  const root = await sidRoot();
  if (root.release !== release) throw new LabError(`the sid root holds headers of ${root.release}, not ${release}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  cpSync(source, dir, { recursive: true });
  const r = await withSidLock(() =>
    inSid(["make", "-C", `/usr/src/linux-headers-${release}`, "M=/build", "CONFIG_DEBUG_INFO_BTF_MODULES=", "modules"], { [dir]: "/build" }),
  );
  if (r.exitCode !== 0 || !existsSync(ko))
    throw new LabError(`building ${ko} for ${release} in the sid root failed`, { hint: r.stderr.trim().split("\n").slice(-3).join(" / ") });
  return ko;
}

async function makeModule(release: string, build: string, dir: string, ko: string, source: string, extra: string[] = []): Promise<string> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  cpSync(source, dir, { recursive: true });
  // No pahole here: module BTF is not needed (the analysis reads the kernel's BTF only).
  const r = await $`make -C ${build} M=${dir} CONFIG_DEBUG_INFO_BTF_MODULES= ${extra} modules`.quiet().nothrow();
  if (r.exitCode !== 0 || !existsSync(ko))
    throw new LabError(`building oops.ko for ${release} failed`, { hint: r.stderr.toString().trim().split("\n").slice(-3).join(" / ") });
  return ko;
}

/**
 * A crash of `line` inside the module, with panic_on_oops: "init" writes through NULL in the module's init,
 * "timer" in a timer callback (softirq on the IRQ stack, over an interrupt's pt_regs).
 */
export async function oopsDump(line: string, mode: "init" | "timer" = "init"): Promise<LabDump> {
  return labDump({
    line,
    scenario: `oops-${mode}-${sourceHash()}`,
    files: { "/lab/oops.ko": await oopsModule(line) },
    crash: `echo 1 > /proc/sys/kernel/panic_on_oops; insmod /lab/oops.ko mode=${mode}; sleep 10`,
  });
}
