// The fuzzer's starting files: every lab dump under <lab>/dumps (found, not listed, so new kernel lines join by
// themselves) as a sparse ELF holding only the bytes a clean `analyze` reads, and, for one dump per kernel release,
// the other formats made from it by our collector (kdump-compressed with each codec, flattened) and by Debian's
// makedumpfile (-c zlib, -l lzo, -F flattened). Each base records which file bytes a clean run read (strace of its
// pread64 calls), intersected with the structures of _regions.ts, and the clean output of each command.
import { $ } from "bun";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, statSync, writeFileSync, writeSync, ftruncateSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
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
  /** elf, kdump-zstd, kdump-zlib, kdump-lzo, kdump-none, flat-zstd, mdf-zlib, mdf-lzo, mdf-flat. */
  format: string;
  /** The file. */
  file: string;
  /** Per structure, the file ranges a clean run read. */
  targets: Record<Structure, Range[]>;
  /** Clean result per command. */
  baseline: Record<string, Baseline>;
}

/** Lab dumps: folders under <lab>/dumps holding a vmcore (builds in progress hold capture.raw instead). */
export function discoverDumps(labDir: string): { name: string; vmcore: string; release: string }[] {
  const root = join(labDir, "dumps");
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((n) => !n.endsWith(".lock") && existsSync(join(root, n, "vmcore")) && existsSync(join(root, n, "console.log")))
    .sort()
    .map((name) => {
      let release = name.replace(/-(sysrq|oops|anon|thp|kmsg).*$/, "");
      try {
        release = JSON.parse(readFileSync(join(root, name, "spec.json"), "utf8")).release ?? release;
      } catch {}
      return { name, vmcore: join(root, name, "vmcore"), release };
    });
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
export async function cleanRun(file: string, cmd: string[]): Promise<Baseline> {
  const p = Bun.spawn([process.execPath, KDUMP, "analyze", file, ...cmd], { stdout: "pipe", stderr: "pipe" });
  const [out] = await Promise.all([new Response(p.stdout).arrayBuffer(), new Response(p.stderr).arrayBuffer()]);
  return { exit: await p.exited, out: Bun.hash(new Uint8Array(out)).toString(16) };
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
};

/** The formats made for one dump per release. */
export const FORMATS = ["elf", ...Object.keys(CONVERSIONS)];

async function collect(elf: string, out: string, tmp: string, args: string[]): Promise<void> {
  const dir = join(tmp, "collect");
  rmSync(dir, { recursive: true, force: true });
  const r = await $`${process.execPath} ${KDUMP} collect --from ${elf} --out ${dir} --level 31 --threads 0 --host fuzz --json ${args}`.quiet();
  renameSync(JSON.parse(r.stdout.toString()).path, out);
  rmSync(dir, { recursive: true, force: true });
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
  const releases = new Set<string>();
  const found = discoverDumps(labDir);
  const names = new Set(found.map((d) => d.name));
  for (const d of found) {
    // a filter naming a dump exactly picks that one; any other filter picks the dumps whose names contain it
    if (opts.dumps && !opts.dumps.some((x) => x === d.name || (!names.has(x) && d.name.includes(x)))) continue;
    const first = !releases.has(d.release);
    releases.add(d.release);
    for (const format of formats) {
      if (format !== "elf" && !first && !opts.allFormats) continue;
      const dir = join(work, d.name);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const meta = join(dir, `${format}.json`);
      const file = join(dir, `${format}.dump`);
      if (existsSync(meta) && existsSync(file) && statSync(meta).mtimeMs >= statSync(d.vmcore).mtimeMs) {
        bases.push(JSON.parse(readFileSync(meta, "utf8")));
        continue;
      }
      if (opts.cachedOnly) continue;
      const t0 = performance.now();
      try {
        if (format === "elf") sparseCopy(d.vmcore, file, merge((await tracedReads(d.vmcore, dir)).map(([s, e]) => [s & ~4095, Math.ceil(e / 4096) * 4096] as Range)));
        else await CONVERSIONS[format]!(d.vmcore, file, dir);
      } catch (e) {
        // e.g. makedumpfile 1.7.2 on a kernel it does not know: that format is left out for this dump
        log(`fuzz: no ${format} base for ${d.name}: ${((e as { stderr?: Buffer }).stderr?.toString() || (e as Error).message).trim().split("\n").pop()}`);
        continue;
      }
      const reads = await tracedReads(file, dir);
      const regions = dumpRegions(file, d.vmcore, log);
      const targets = Object.fromEntries(STRUCTURES.map((s) => [s, intersect(reads, merge(regions[s]))])) as Record<Structure, Range[]>;
      const baseline: Record<string, Baseline> = {};
      for (const [c, argv] of Object.entries(COMMANDS)) baseline[c] = await cleanRun(file, argv);
      const base: Base = { name: `${d.name}/${format}`, dump: d.name, format, file, targets, baseline };
      writeFileSync(meta, JSON.stringify(base));
      bases.push(base);
      log(`fuzz: base ${base.name} ready in ${((performance.now() - t0) / 1000).toFixed(0)} s (${(statSync(file).blocks * 512 / 2 ** 20).toFixed(0)} MB on disk)`);
    }
  }
  return bases;
}
