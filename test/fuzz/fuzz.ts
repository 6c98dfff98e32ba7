// The dump fuzzer: `npm run fuzz -- --cases N --seed S`. Mutates the lab dumps in every format (see _bases.ts)
// where the readers read, runs `kdump analyze` on each mutated file in a subprocess, and prints per structure how
// many cases changed the outcome (exit code or output differs from the clean run's) and how each ended: ok, clean
// error (one `kdump: …` line naming the file), bad message, stack trace, hang (20 s of CPU, or 120 s wall), signal,
// memory over 500 MB; then the cases per kernel line, machine and format. Exits 1 when any case ended in anything
// but ok or a clean error. `--structure S` fuzzes only S, `--start N` resumes a run at case N (appending to its
// results), `--replay N` writes case N's mutated file and prints how to run it, `--tally FILE` prints the tables of
// a results file. Run it at low priority on a shared machine: `nice -n 19 npm run fuzz -- …`.
import { $ } from "bun";
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { labDir } from "../../lib/lab/labdir.ts";
import { COMMANDS, prepareBases, type Base } from "./_bases.ts";
import { applyPatches, OUTCOMES, planCase, runCase, type CaseResult } from "./_case.ts";
import { STRUCTURES, type Structure } from "./_regions.ts";
import { closeSync, openSync, readSync } from "node:fs";

/** Options of a fuzz run. */
export interface FuzzOptions {
  cases: number;
  seed: number;
  /** Parallel cases (default: one per CPU). */
  jobs?: number;
  /** Where bases, worker copies and the results go. */
  work: string;
  /** The lab whose dumps are fuzzed. */
  lab: string;
  /** Only dumps whose folder name contains one of these. */
  dumps?: string[];
  /** Only these formats (default all). */
  formats?: string[];
  /** Every format for every dump, not one dump per release. */
  allFormats?: boolean;
  /** Only the bases already made (no conversions now). */
  cachedOnly?: boolean;
  /** Only these structures. */
  structures?: Structure[];
  /** The first case number (a resumed run appends to the results of the cases before). */
  start?: number;
  log?: (s: string) => void;
}

/** A fuzz run's results. */
export interface FuzzReport {
  bases: string[];
  results: CaseResult[];
  /** Per structure: cases, cases that changed the outcome, and the count of each outcome. */
  table: Record<string, { cases: number; changed: number } & Record<string, number>>;
  seconds: number;
}

/** Runs the fuzzer. */
export async function fuzz(o: FuzzOptions): Promise<FuzzReport> {
  const log = o.log ?? (() => {});
  const t0 = performance.now();
  const found = await prepareBases(o.lab, join(o.work, "bases"), { dumps: o.dumps, formats: o.formats, allFormats: o.allFormats, cachedOnly: o.cachedOnly, log });
  if (!found.length) throw new Error(`no lab dumps under ${o.lab}/dumps: build them with bun test/prepare.ts`);
  // a case is planned from the list of bases: a resumed run uses the list its start wrote
  const bases = pinBases(found, join(o.work, `results-seed${o.seed}.bases.json`), !o.start);
  const fds = new Map<string, number>();
  const readBase = (b: Base, off: number, n: number) => {
    let fd = fds.get(b.file);
    if (fd === undefined) fds.set(b.file, (fd = openSync(b.file, "r")));
    const buf = new Uint8Array(n);
    readSync(fd, buf, 0, n, off);
    return buf;
  };
  const results: CaseResult[] = [];
  const jsonl = join(o.work, `results-seed${o.seed}.jsonl`);
  const start = o.start ?? 0;
  if (!start || !existsSync(jsonl)) writeFileSync(jsonl, "");
  let next = start;
  const jobs = o.jobs ?? availableParallelism();
  const worker = async (w: number) => {
    const dir = join(o.work, `worker${w}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const copies = new Map<string, string>();
    try {
      while (next < o.cases) {
        const plan = planCase(bases, o.seed, next++, readBase, o.structures);
        let copy = copies.get(plan.base.name);
        if (!copy) {
          copy = join(dir, plan.base.name.replace(/[^\w.+-]+/g, "_"));
          await $`cp --sparse=always ${plan.base.file} ${copy}`.quiet();
          copies.set(plan.base.name, copy);
        }
        const r = await runCase(plan, copy);
        results.push(r);
        appendFileSync(jsonl, JSON.stringify(resultLine(r)) + "\n");
        if (results.length % 100 === 0) log(`fuzz: ${start + results.length}/${o.cases} cases, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  await Promise.all(Array.from({ length: jobs }, (_, w) => worker(w)));
  for (const fd of fds.values()) closeSync(fd);
  return { bases: bases.map((b) => b.name), results: results.sort((a, b) => a.plan.index - b.plan.index), table: tally(results), seconds: (performance.now() - t0) / 1000 };
}

/**
 * The bases a run plans its cases from, in order: `found` as is when `write` (a run from case 0; the list is saved
 * to `manifest`), else the saved list (a resumed run, or a replay, plans the same cases as the run it continues).
 */
export function pinBases(found: Base[], manifest: string, write: boolean): Base[] {
  if (write || !existsSync(manifest)) {
    if (write) writeFileSync(manifest, JSON.stringify(found.map((b) => b.name), null, 1) + "\n");
    return found;
  }
  const names: string[] = JSON.parse(readFileSync(manifest, "utf8"));
  const by = new Map(found.map((b) => [b.name, b]));
  const missing = names.filter((n) => !by.has(n));
  if (missing.length) throw new Error(`${manifest}: the run planned its cases over bases that are gone: ${missing.join(", ")}; start a new run (--start 0)`);
  return names.map((n) => by.get(n)!);
}

/** A result as a line of results-seedS.jsonl: the base by name, with its kernel line, machine and format. */
function resultLine(r: CaseResult) {
  const b = r.plan.base;
  return { ...r, plan: { ...r.plan, base: b.name, release: b.release ?? b.dump, machine: b.machine ?? "x86_64", format: b.format } };
}

/** A result as tally() and coverage() read it (a live one or a line of results-seedS.jsonl). */
type Tallied = Pick<CaseResult, "changed" | "outcome"> & { plan: Pick<CaseResult["plan"], "structure"> & { base: unknown; release?: string; machine?: string; format?: string } };

/** Per kernel release and machine, per format: cases and outcome-changing cases, as a text table. */
export function coverage(results: Tallied[]): string {
  const cell = new Map<string, { cases: number; changed: number }>();
  const lines = new Set<string>();
  const formats = new Set<string>();
  for (const r of results) {
    const b = r.plan.base as Base | string;
    const release = typeof b === "string" ? r.plan.release ?? b.split("/")[0]! : b.release ?? b.dump;
    const machine = typeof b === "string" ? r.plan.machine ?? "?" : b.machine ?? "?";
    const format = typeof b === "string" ? r.plan.format ?? b.split("/")[1]! : b.format;
    const line = `${release} ${machine}`;
    lines.add(line);
    formats.add(format);
    const c = cell.get(`${line}|${format}`) ?? cell.set(`${line}|${format}`, { cases: 0, changed: 0 }).get(`${line}|${format}`)!;
    c.cases++;
    if (r.changed) c.changed++;
  }
  const cols = [...formats].sort();
  const rows = [...lines].sort().map((l) => [l, ...cols.map((f) => {
    const c = cell.get(`${l}|${f}`);
    return c ? `${c.cases}/${c.changed}` : "-";
  })]);
  const head = ["cases/outcome-changing", ...cols];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((x) => x[i]!.length)));
  const line = (xs: string[]) => xs.map((x, i) => (i ? x.padStart(w[i]!) : x.padEnd(w[i]!))).join("  ");
  return [line(head), ...rows.map(line)].join("\n");
}

/** Per structure (and "all"): cases, cases whose outcome changed, and each outcome's count. */
export function tally(results: Tallied[]): FuzzReport["table"] {
  const table: FuzzReport["table"] = {};
  for (const s of [...STRUCTURES, "all"]) {
    const rs = s === "all" ? results : results.filter((r) => r.plan.structure === s);
    const row: any = { cases: rs.length, changed: rs.filter((r) => r.changed).length };
    for (const out of OUTCOMES) row[out] = rs.filter((r) => r.outcome === out).length;
    table[s] = row;
  }
  return table;
}

/** The outcome table as text. */
export function formatTable(r: FuzzReport): string {
  const cols = ["cases", "changed", ...OUTCOMES];
  const rows = Object.entries(r.table).map(([s, row]) => [s, ...cols.map((c) => String(row[c] ?? 0))]);
  const head = ["structure", "cases", "outcome-changing", ...OUTCOMES];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((x) => x[i]!.length)));
  const line = (xs: string[]) => xs.map((x, i) => (i ? x.padStart(w[i]!) : x.padEnd(w[i]!))).join("  ");
  return [line(head), ...rows.map(line)].join("\n");
}

/** Results that are neither ok nor a clean error. */
export function failures(r: FuzzReport): CaseResult[] {
  return r.results.filter((x) => x.outcome !== "ok" && x.outcome !== "clean error");
}

if (import.meta.main) {
  const { values: v } = parseArgs({
    args: Bun.argv.slice(2),
    options: {
      cases: { type: "string", default: "1000" },
      seed: { type: "string", default: "1" },
      jobs: { type: "string" },
      work: { type: "string" },
      lab: { type: "string" },
      dump: { type: "string", multiple: true },
      format: { type: "string", multiple: true },
      "all-formats": { type: "boolean", default: false },
      "cached-only": { type: "boolean", default: false },
      json: { type: "string" },
      replay: { type: "string" },
      tally: { type: "string" },
      structure: { type: "string", multiple: true },
      start: { type: "string" },
    },
  });
  if (v.tally) {
    // the tables of a run so far (or of a finished one) from its results-seedS.jsonl
    const rs = readFileSync(v.tally, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
    const ids = rs.map((x) => x.plan.index as number);
    console.log(`fuzz: ${rs.length} cases in ${v.tally} (case ${Math.min(...ids)} to ${Math.max(...ids)})`);
    console.log(formatTable({ bases: [], results: rs, table: tally(rs), seconds: 0 }));
    console.log(coverage(rs));
    for (const f of rs.filter((x) => x.outcome !== "ok" && x.outcome !== "clean error").slice(0, 50))
      console.log(`case ${f.plan.index}: ${f.outcome} on ${f.plan.base} ${f.plan.command} (${f.plan.structure}, ${JSON.stringify(f.plan.patches)}): ${f.stderr.split("\n")[0]}`);
    process.exit(0);
  }
  const structures = v.structure?.flatMap((x) => x.split(","));
  const unknown = structures?.filter((x) => !(STRUCTURES as readonly string[]).includes(x));
  if (unknown?.length) {
    console.error(`kdump: fuzz: unknown structure ${unknown.join(", ")}: use ${STRUCTURES.join(", ")}`);
    process.exit(2);
  }
  const lab = v.lab ? resolve(v.lab) : labDir();
  const work = resolve(v.work ?? join(lab, "fuzz"));
  mkdirSync(work, { recursive: true, mode: 0o700 });
  if (v.replay !== undefined) {
    const found = await prepareBases(lab, join(work, "bases"), { dumps: v.dump, formats: v.format, allFormats: v["all-formats"], cachedOnly: v["cached-only"] });
    const bases = pinBases(found, join(work, `results-seed${v.seed}.bases.json`), false);
    const read = (b: Base, off: number, n: number) => {
      const fd = openSync(b.file, "r");
      const buf = new Uint8Array(n);
      readSync(fd, buf, 0, n, off);
      closeSync(fd);
      return buf;
    };
    const plan = planCase(bases, Number(v.seed), Number(v.replay), read, structures as Structure[] | undefined);
    const copy = join(work, `replay-${v.replay}.dump`);
    await $`cp --sparse=always ${plan.base.file} ${copy}`.quiet();
    applyPatches(copy, plan.patches);
    console.log(`case ${v.replay} (seed ${v.seed}): ${plan.base.name}, ${plan.structure}, patches ${JSON.stringify(plan.patches)}`);
    console.log(`bun kdump.ts analyze ${copy} ${COMMANDS[plan.command]!.join(" ")}`);
    process.exit(0);
  }
  let r: FuzzReport;
  try {
    r = await fuzz({
      cases: Number(v.cases),
      seed: Number(v.seed),
      jobs: v.jobs ? Number(v.jobs) : undefined,
      work,
      lab,
      dumps: v.dump,
      formats: v.format,
      allFormats: v["all-formats"],
      cachedOnly: v["cached-only"],
      structures: structures as Structure[] | undefined,
      start: v.start ? Number(v.start) : undefined,
      log: (s) => console.error(s),
    });
  } catch (e) {
    // a missing lab, a base list that changed: one line, as every kdump error
    console.error(`kdump: fuzz: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
  console.log(`fuzz: ${r.results.length} cases, seed ${v.seed}, ${r.bases.length} bases (${r.bases.join(", ")}), ${r.seconds.toFixed(0)} s`);
  console.log(formatTable(r));
  console.log(coverage(r.results));
  const bad = failures(r);
  for (const f of bad.slice(0, 50))
    console.log(`case ${f.plan.index}: ${f.outcome} on ${f.plan.base.name} ${f.plan.command} (${f.plan.structure}, ${JSON.stringify(f.plan.patches)}): ${f.stderr.split("\n")[0]}`);
  if (v.json) writeFileSync(v.json, JSON.stringify({ ...r, results: r.results.map(resultLine) }));
  if (existsSync(work)) console.log(`fuzz: results in ${join(work, `results-seed${v.seed}.jsonl`)}`);
  process.exit(bad.length ? 1 : 0);
}
