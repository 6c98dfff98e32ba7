// The fuzzer's starting files: every lab dump under <lab>/dumps (found, not listed, so new kernel lines and other
// architectures join by themselves) as a sparse ELF holding only the bytes a clean `analyze` reads, and, for one dump
// per kernel release and machine, the other formats made from it by our collector (kdump-compressed with each codec,
// flattened, filtered ELF), by Debian's makedumpfile 1.7.2 (-c zlib, -l lzo, -F flattened, -E ELF) and by sid's
// makedumpfile (-p snappy, when the lab's sid root is built). A conversion a tool cannot make (makedumpfile on a
// kernel or machine it does not know) is left out with a log line. Each base records which file bytes a clean run
// read (strace of its pread64 calls), intersected with the structures of _regions.ts, and the clean output of each
// command; _hot.ts adds the kernel-table bytes each command used. A base is made again when its dump changes; when
// the analyzer's code changes, its clean runs are recorded again (the whole base, if they failed before: a machine
// or kernel line kdump learnt to read since).
import { $ } from "bun";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, statSync, writeFileSync, writeSync, ftruncateSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { labDir } from "../../lib/lab/labdir.ts";
import { inSid } from "../../lib/lab/sid_root.ts";
import { hotRanges, type Hot } from "./_hot.ts";
import { dumpRegions, STRUCTURES, type Range, type Structure } from "./_regions.ts";

/** The CLI under test. */
export const KDUMP = join(import.meta.dir, "..", "..", "kdump.ts");

/** The analyze commands a case may run (crash's names; `bt -a` unwinds every CPU). */
export const COMMANDS: Record<string, string[]> = { sys: ["sys"], log: ["log"], ps: ["ps"], bt: ["bt", "-a"], mod: ["mod"] };

/** A clean run's result, to tell whether a mutation changed the outcome. */
export interface Baseline {
  exit: number;
  /** Hash of stdout. */
  out: string;
}

/** One starting file. */
export interface Base {
  /** "<dump>/<format>". */
  name: string;
  /** The dump folder's name under <lab>/dumps. */
  dump: string;
  /** The crashed kernel's release ("6.1.0-57-cloud-amd64"). */
  release?: string;
  /** Its machine ("x86_64", "aarch64"), from the dump's own header. */
  machine?: string;
  /** One of FORMATS: elf, kdump-zstd, kdump-zlib, kdump-lzo, kdump-none, flat-zstd, elf-31, mdf-zlib, mdf-lzo, mdf-flat, mdf-elf, mdf-snappy. */
  format: string;
  /** The file. */
  file: string;
  /** Per structure, the file ranges a clean run read. */
  targets: Record<Structure, Range[]>;
  /** Clean result per command. */
  baseline: Record<string, Baseline>;
  /** The kallsyms, BTF and ORC entries each command used (kept beside the base, in <format>.hot.json). */
  hot?: Hot;
  /** codeVersion() of the analyzer that made the baseline. */
  code?: string;
}

/**
 * Lab dumps: folders under <lab>/dumps holding a finished vmcore (a build in progress holds capture.raw, and writes
 * console.log and spec.json only after the vmcore), of any kernel line and any machine.
 */
export function discoverDumps(labDir: string): { name: string; vmcore: string; release: string; machine: string }[] {
  const root = join(labDir, "dumps");
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((n) => !n.endsWith(".lock") && existsSync(join(root, n, "vmcore")) && (existsSync(join(root, n, "console.log")) || existsSync(join(root, n, "spec.json"))))
    .sort()
    .map((name) => {
      const vmcore = join(root, name, "vmcore");
      let release = name.replace(/-(sysrq|oops|anon|thp|kmsg|meminfo).*$/, "");
      try {
        release = JSON.parse(readFileSync(join(root, name, "spec.json"), "utf8")).release ?? release;
      } catch {}
      return { name, vmcore, release, machine: dumpMachine(vmcore) };
    });
}

/** ELF e_machine values of the machines a lab may hold. */
const ELF_MACHINES: Record<number, string> = { 3: "i386", 8: "mips", 20: "ppc", 21: "ppc64", 22: "s390x", 40: "arm", 62: "x86_64", 183: "aarch64", 243: "riscv64", 258: "loongarch64" };

/** The machine a dump was taken on: e_machine of an ELF dump, utsname.machine of a kdump-compressed one. */
export function dumpMachine(file: string): string {
  const fd = openSync(file, "r");
  try {
    const head = new Uint8Array(340);
    readSync(fd, head, 0, head.length, 0);
    const dv = new DataView(head.buffer);
    if (dv.getUint32(0) === 0x7f454c46) {
      const m = dv.getUint16(18, head[5] === 1);
      return ELF_MACHINES[m] ?? `elf-machine-${m}`;
    }
    const text = new TextDecoder().decode(head.subarray(0, 8));
    if (text === "KDUMP   ") return new TextDecoder().decode(head.subarray(272, 337)).replace(/\0.*$/s, "") || "unknown";
    return "unknown";
  } finally {
    closeSync(fd);
  }
}

/** The file ranges `analyze … --format msgpack` (every command) reads from `file`, from strace's pread64 log. */
export async function tracedReads(file: string, scratch: string): Promise<Range[]> {
  const log = join(scratch, `trace-${process.pid}.txt`);
  await $`strace -y -s 0 -e trace=pread64 -o ${log} ${process.execPath} ${KDUMP} analyze ${file} --format msgpack`.quiet().nothrow();
  const out: Range[] = [];
  const re = /^pread64\(\d+<([^>]*)>, [^,]*, (\d+), (\d+)\) = (\d+)/;
  for (const line of readFileSync(log, "utf8").split("\n")) {
    const m = re.exec(line);
    if (m && m[1] === file && Number(m[4]) > 0) out.push([Number(m[3]), Number(m[3]) + Number(m[4])]);
  }
  rmSync(log, { force: true });
  return merge(out);
}

/** Sorted, merged ranges. */
export function merge(rs: Range[]): Range[] {
  const s = [...rs].sort((a, b) => a[0] - b[0]);
  const out: Range[] = [];
  for (const r of s) {
    const last = out[out.length - 1];
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else out.push([r[0], r[1]]);
  }
  return out;
}

/** The parts of `a` inside `b` (both merged). */
export function intersect(a: Range[], b: Range[]): Range[] {
  const out: Range[] = [];
  for (let i = 0, j = 0; i < a.length && j < b.length; ) {
    const s = Math.max(a[i]![0], b[j]![0]);
    const e = Math.min(a[i]![1], b[j]![1]);
    if (e > s) out.push([s, e]);
    if (a[i]![1] < b[j]![1]) i++;
    else j++;
  }
  return out;
}

/** A sparse copy of `src` (same size) holding only `ranges`. */
function sparseCopy(src: string, dst: string, ranges: Range[]): void {
  const size = statSync(src).size;
  const i = openSync(src, "r");
  const o = openSync(dst + ".part", "w", 0o600);
  try {
    ftruncateSync(o, size);
    for (const [s, e] of ranges) {
      const b = new Uint8Array(e - s);
      readSync(i, b, 0, b.length, s);
      writeSync(o, b, 0, b.length, s);
    }
  } finally {
    closeSync(i);
    closeSync(o);
  }
  renameSync(dst + ".part", dst);
}

/** Runs one analyze command on `file` and returns its result (exit code, stdout hash). */
export async function cleanRun(file: string, cmd: string[]): Promise<Baseline & { err: string }> {
  const p = Bun.spawn([process.execPath, KDUMP, "analyze", file, ...cmd], { stdout: "pipe", stderr: "pipe" });
  const [out, err] = await Promise.all([new Response(p.stdout).arrayBuffer(), new Response(p.stderr).text()]);
  return { exit: await p.exited, out: Bun.hash(new Uint8Array(out)).toString(16), err: err.trim().split("\n")[0] ?? "" };
}

/** The clean result of every command on `file`. */
async function baselines(file: string): Promise<Record<string, Baseline>> {
  const out: Record<string, Baseline> = {};
  for (const [c, argv] of Object.entries(COMMANDS)) {
    const { exit, out: hash } = await cleanRun(file, argv);
    out[c] = { exit, out: hash };
  }
  return out;
}

/** A hash of the analyzer's code (kdump.ts and lib/): clean outputs recorded by another version are stale. */
export function codeVersion(): string {
  const root = join(import.meta.dir, "..", "..");
  const files = ["kdump.ts", ...readdirSync(join(root, "lib"), { recursive: true }).map((f) => join("lib", String(f)))].filter((f) => f.endsWith(".ts")).sort();
  const h = new Bun.CryptoHasher("sha1");
  for (const f of files) h.update(f).update(readFileSync(join(root, f)));
  return h.digest("hex").slice(0, 12);
}

/** How each non-ELF format is made from an ELF dump (into `out`). */
const CONVERSIONS: Record<string, (elf: string, out: string, tmp: string) => Promise<void>> = {
  "kdump-zstd": (e, o, t) => collect(e, o, t, ["--compress", "zstd"]),
  "kdump-zlib": (e, o, t) => collect(e, o, t, ["--compress", "zlib"]),
  "kdump-lzo": (e, o, t) => collect(e, o, t, ["--compress", "lzo"]),
  "kdump-none": (e, o, t) => collect(e, o, t, ["--compress", "none"]),
  "flat-zstd": async (e, o) => void (await $`${process.execPath} ${KDUMP} collect --from ${e} --out - --format flat --compress zstd --threads 0 > ${o}`.quiet()),
  "mdf-zlib": async (e, o) => void (await $`makedumpfile -c -d 31 ${e} ${o}`.quiet()),
  "mdf-lzo": async (e, o) => void (await $`makedumpfile -l -d 31 ${e} ${o}`.quiet()),
  "mdf-flat": async (e, o) => void (await $`makedumpfile -F -l -d 31 ${e} > ${o}`.quiet()),
  "elf-31": (e, o, t) => collect(e, o, t, ["--format", "elf"]),
  "mdf-elf": async (e, o) => void (await $`makedumpfile -E -d 31 ${e} ${o}`.quiet()),
  // snappy: Debian 12's makedumpfile is built without it, sid's (1.7.8) with it
  "mdf-snappy": (e, o) => sidMakedumpfile(["-p", "-d", "31"], e, o),
};

/** The lab has no sid root yet (a conversion to try again later). */
class SidMissing extends Error {}

/** Runs sid's makedumpfile on `elf` into `out`, when the lab's sid root is built (this never starts that build). */
async function sidMakedumpfile(args: string[], elf: string, out: string): Promise<void> {
  const roots = join(labDir(), "roots");
  const built = existsSync(roots) && readdirSync(roots).some((n) => n.startsWith("sid-") && existsSync(join(roots, n, ".kdump-done")));
  if (!built) throw new SidMissing("the lab's sid root (makedumpfile 1.7.8) is not built");
  const r = await inSid(["makedumpfile", ...args, `/host/in/${basename(elf)}`, `/host/out/${basename(out)}`], { [dirname(elf)]: "/host/in", [dirname(out)]: "/host/out" });
  if (r.exitCode !== 0) throw new Error(r.stderr.trim().split("\n").pop() ?? `makedumpfile exited ${r.exitCode}`);
}

/** The formats made for one dump per release. */
export const FORMATS = ["elf", ...Object.keys(CONVERSIONS)];

async function collect(elf: string, out: string, tmp: string, args: string[]): Promise<void> {
  const dir = join(tmp, "collect");
  rmSync(dir, { recursive: true, force: true });
  const r = await $`${process.execPath} ${KDUMP} collect --from ${elf} --out ${dir} --level 31 --threads 0 --host fuzz --json ${args}`.quiet();
  renameSync(JSON.parse(r.stdout.toString()).path, out);
  rmSync(dir, { recursive: true, force: true });
}

/** The base's hot entries (see _hot.ts), worked out once into <format>.hot.json (in-process, a few seconds). */
async function hotOf(base: Base, vmcore: string, log: (s: string) => void): Promise<Hot> {
  const file = base.file.replace(/\.dump$/, ".hot.json");
  if (existsSync(file) && statSync(file).mtimeMs >= statSync(base.file).mtimeMs) return JSON.parse(readFileSync(file, "utf8"));
  const t0 = performance.now();
  const hot = hotRanges(base.file, vmcore, COMMANDS);
  writeFileSync(file, JSON.stringify(hot));
  const n = Object.entries(hot).map(([s, per]) => `${s} ${Object.values(per!).reduce((a, r) => a + r.length, 0)}`).join(", ");
  log(`fuzz: hot entries of ${base.name} (${n || "none"}) in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  return hot;
}

/**
 * The bases for the lab at `labDir`, made once into `work` (a folder of its own: each is a few MB to a few
 * dozen MB). `formats` limits the formats; `allFormats` makes every format for every dump, not one per release.
 */
export async function prepareBases(
  labDir: string,
  work: string,
  opts: { formats?: string[]; dumps?: string[]; allFormats?: boolean; cachedOnly?: boolean; log?: (s: string) => void } = {},
): Promise<Base[]> {
  mkdirSync(work, { recursive: true, mode: 0o700 });
  const log = opts.log ?? (() => {});
  const formats = opts.formats ?? FORMATS;
  const bases: Base[] = [];
  const code = codeVersion();
  const releases = new Set<string>();
  const found = discoverDumps(labDir);
  const names = new Set(found.map((d) => d.name));
  // the dump of each release and machine that has the other formats: the one already made (a dump that sorts first
  // but finished later does not take them over), else the first by name
  const owner = new Map<string, string>();
  for (const d of found) {
    const key = `${d.release}/${d.machine}`;
    if (FORMATS.some((f) => f !== "elf" && existsSync(join(work, d.name, `${f}.json`)))) owner.set(key, owner.get(key) ?? d.name);
  }
  for (const d of found) {
    // a filter naming a dump exactly picks that one; any other filter picks the dumps whose names contain it
    if (opts.dumps && !opts.dumps.some((x) => x === d.name || (!names.has(x) && d.name.includes(x)))) continue;
    const key = `${d.release}/${d.machine}`;
    const first = owner.has(key) ? owner.get(key) === d.name : !releases.has(key);
    releases.add(key);
    for (const format of formats) {
      if (format !== "elf" && !first && !opts.allFormats) continue;
      const dir = join(work, d.name);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const meta = join(dir, `${format}.json`);
      const file = join(dir, `${format}.dump`);
      const cached: Base | undefined = existsSync(meta) && existsSync(file) && statSync(meta).mtimeMs >= statSync(d.vmcore).mtimeMs ? JSON.parse(readFileSync(meta, "utf8")) : undefined;
      // a base whose clean runs failed under older code (a machine kdump could not read then) is made again
      const failed = cached && cached.code !== code && Object.values(cached.baseline).some((b) => b.exit !== 0) && !opts.cachedOnly;
      if (cached && !failed) {
        if (cached.code !== code) {
          // the analyzer changed since: its clean outputs (and the entries it uses) are recorded again
          cached.baseline = await baselines(cached.file);
          cached.code = code;
          writeFileSync(meta, JSON.stringify(cached));
          rmSync(cached.file.replace(/\.dump$/, ".hot.json"), { force: true });
          log(`fuzz: clean runs of ${cached.name} recorded again (the analyzer changed)`);
        }
        // a base cached by older code may lack its kernel line and machine: the tables name them from the dump
        cached.release ??= d.release;
        cached.machine ??= d.machine;
        // the hot entries are cheap (in-process) and made even for a run on cached bases only
        cached.hot = await hotOf(cached, d.vmcore, log);
        bases.push(cached);
        continue;
      }
      const skip = join(dir, `${format}.skip`);
      // a conversion that failed is not tried again until the dump or the analyzer's code changes
      if (opts.cachedOnly || (existsSync(skip) && statSync(skip).mtimeMs >= statSync(d.vmcore).mtimeMs && readFileSync(skip, "utf8").startsWith(`${code}\n`))) continue;
      const t0 = performance.now();
      // a stale file of an older dump would stop makedumpfile ("File exists")
      rmSync(file, { force: true });
      try {
        if (format === "elf") sparseCopy(d.vmcore, file, merge((await tracedReads(d.vmcore, dir)).map(([s, e]) => [s & ~4095, Math.ceil(e / 4096) * 4096] as Range)));
        else await CONVERSIONS[format]!(d.vmcore, file, dir);
      } catch (e) {
        // e.g. makedumpfile 1.7.2 on a kernel or machine it does not know: that format is left out for this dump
        // (and not tried again until the dump or the code changes; a missing sid root is tried again next time)
        const why = ((e as { stderr?: Buffer }).stderr?.toString() || (e as Error).message).trim().split("\n").pop();
        log(`fuzz: no ${format} base for ${d.name}: ${why}`);
        if (!(e instanceof SidMissing)) writeFileSync(skip, `${code}\n${why}\n`);
        rmSync(file, { force: true });
        continue;
      }
      const reads = await tracedReads(file, dir);
      if (!reads.length) {
        // the clean run read nothing of it (kdump could not start): no base, and the reason is in its own output
        log(`fuzz: no ${format} base for ${d.name}: a clean kdump analyze read nothing of it (${(await cleanRun(file, ["sys"])).err})`);
        rmSync(file, { force: true });
        continue;
      }
      let regions: ReturnType<typeof dumpRegions>;
      try {
        regions = dumpRegions(file, d.vmcore, log);
      } catch (e) {
        log(`fuzz: no ${format} base for ${d.name}: ${(e as Error).message.split("\n")[0]}`);
        rmSync(file, { force: true });
        continue;
      }
      const targets = Object.fromEntries(STRUCTURES.map((s) => [s, intersect(reads, merge(regions[s]))])) as Record<Structure, Range[]>;
      const baseline = await baselines(file);
      const base: Base = { name: `${d.name}/${format}`, dump: d.name, release: d.release, machine: d.machine, format, file, targets, baseline, code };
      writeFileSync(meta, JSON.stringify(base));
      base.hot = await hotOf(base, d.vmcore, log);
      bases.push(base);
      log(`fuzz: base ${base.name} ready in ${((performance.now() - t0) / 1000).toFixed(0)} s (${(statSync(file).blocks * 512 / 2 ** 20).toFixed(0)} MB on disk)`);
    }
  }
  return bases;
}
