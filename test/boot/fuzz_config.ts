// The config fuzzer (issue 18): hostile /etc/default/grub, grub.d drop-ins in kdump-tools' style, BLS entries and
// /etc/kernel/cmdline, each run through setup's edit three times (set crashkernel=, set it again, --remove), with
// bash as the oracle: `bash -n` on every result, every other variable sourcing unchanged, and no byte changed
// outside the edited values. `npm run fuzz:config -- --cases 2000 [--seed N]` prints a table.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KdumpError } from "../../lib/errors.ts";
import { parseShellAssignments } from "../../lib/boot/shell_assign.ts";
import { setup } from "../../lib/boot/setup.ts";
import { type Box, makeBox, rng, SIZES, TARGETS } from "./fuzz_config_cases.ts";

/** What one case ended as. */
export type Outcome =
  | "ok" // every check passed
  | "clean error" // setup refused with a one-line KdumpError and changed nothing
  | "input not shell" // bash -n rejects the generated input itself: only the byte checks apply
  | "bytes changed outside" // a byte outside an edited value changed
  | "not idempotent" // the second run changed something
  | "bash -n fails" // a result does not parse in bash
  | "other variable changed" // sourcing gives another variable a different value
  | "crashkernel wrong" // the sourced or parsed command line does not hold exactly the asked crashkernel=
  | "other words changed" // a word other than crashkernel= changed in an edited value
  | "stack trace" // setup threw something that is not a KdumpError
  | "slow"; // one setup run took more than 5 s

function writeBox(root: string, box: Box): void {
  for (const [p, text] of Object.entries(box.files)) {
    mkdirSync(join(root, p, ".."), { recursive: true });
    writeFileSync(join(root, p), Buffer.from(text, "latin1"));
  }
}

function readFiles(root: string, box: Box): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of Object.keys(box.files)) out[p] = readFileSync(join(root, p)).toString("latin1");
  const entries = join(root, "etc/kernel/cmdline");
  try {
    out["/etc/kernel/cmdline"] = readFileSync(entries).toString("latin1");
  } catch {
    /* absent */
  }
  return out;
}

const SPACE = /[ \t\n\v\f\r]+/;
const noCrash = (ws: string[]) => ws.filter((w) => w && !w.startsWith("crashkernel="));
const crashWords = (ws: string[]) => ws.filter((w) => w.startsWith("crashkernel="));

/** Runs bash on the states of a grub box: `bash -n` of each file, then sources them in order and prints `set`. */
async function bashStates(dir: string, states: Record<string, string>[], paths: string[]): Promise<{ parses: boolean[]; sets: string[] }> {
  const script: string[] = ["export LC_ALL=C"];
  states.forEach((files, s) => {
    const ps = paths.filter((p) => files[p] !== undefined);
    for (const p of ps) writeFileSync(join(dir, `s${s}-${ps.indexOf(p)}`), Buffer.from(files[p]!, "latin1"));
    script.push(`ok=1; for f in ${ps.map((_, i) => `s${s}-${i}`).join(" ")}; do bash -n "$f" 2>/dev/null || ok=0; done; echo "@@parse $ok"`);
    script.push(`echo "@@set"; ( ${ps.map((_, i) => `. ./s${s}-${i}`).join("; ")}; set ) 2>/dev/null; echo "@@end"`);
  });
  writeFileSync(join(dir, "run.sh"), script.join("\n") + "\n");
  const p = Bun.spawn(["timeout", "20", "env", "-i", "PATH=/usr/bin:/bin", "bash", "--norc", "--noprofile", "run.sh"], { cwd: dir, stdout: "pipe", stderr: "ignore", stdin: "ignore" });
  const out = Buffer.from(await new Response(p.stdout).arrayBuffer()).toString("latin1");
  await p.exited;
  const parses = [...out.matchAll(/^@@parse (\d)$/gm)].map((m) => m[1] === "1");
  const sets = [...out.matchAll(/^@@set\n([\s\S]*?)^@@end$/gm)].map((m) => m[1]!);
  return { parses, sets };
}

const VOLATILE = /^(BASH[A-Z_]*|PIPESTATUS|_|LINENO|RANDOM|SRANDOM|SECONDS|EPOCHREALTIME|EPOCHSECONDS|PPID|SHLVL|PWD|OLDPWD|HISTCMD|COLUMNS|LINES|ok|f|GRUB_CMDLINE_LINUX|GRUB_CMDLINE_LINUX_DEFAULT)=/;
/** `set` output without bash's own changing variables and the two edited ones. */
const others = (set: string) => set.split("\n").filter((l) => !VOLATILE.test(l)).join("\n");
/** A variable's value from `set` output (bash prints it quoted: evaluate through bash's own quoting rules). */
function valueOf(set: string, name: string): string {
  const line = set.split("\n").find((l) => l.startsWith(`${name}=`));
  if (!line) return "";
  const v = line.slice(name.length + 1);
  if (v.startsWith("$'")) return v.slice(2, -1).replace(/\\(n|t|r|'|\\|x[0-9a-fA-F]{1,2}|[0-7]{1,3})/g, (_m, e: string) => ({ n: "\n", t: "\t", r: "\r", "'": "'", "\\": "\\" })[e] ?? (e[0] === "x" ? String.fromCharCode(parseInt(e.slice(1), 16)) : String.fromCharCode(parseInt(e, 8))));
  if (v.startsWith("'")) return v.slice(1, -1).replaceAll("'\\''", "'");
  return v;
}
const cmdline = (set: string) => `${valueOf(set, "GRUB_CMDLINE_LINUX")} ${valueOf(set, "GRUB_CMDLINE_LINUX_DEFAULT")}`.split(SPACE).filter(Boolean);

/** The bytes of a shell file outside the values of GRUB_CMDLINE_LINUX(_DEFAULT) (null when it does not parse). */
function outside(text: string, path: string): string[] | null {
  try {
    const spans = parseShellAssignments(text, path).filter((a) => (TARGETS as readonly string[]).includes(a.name));
    const out: string[] = [];
    let at = 0;
    for (const a of spans) {
      out.push(text.slice(at, a.valueStart));
      at = a.valueEnd;
    }
    out.push(text.slice(at));
    return out;
  } catch {
    return null;
  }
}

/**
 * The byte check for a shell file: outside the values of GRUB_CMDLINE_LINUX(_DEFAULT), `after` keeps `before`, but
 * for one line setup may add (`GRUB_CMDLINE_LINUX="crashkernel=…"`, with a line end before it at an unterminated end).
 * The values are found by parsing both texts (the parser is checked against bash by the other checks).
 */
function shellBytesKept(before: string, after: string, path: string): boolean {
  const x = outside(before, path);
  if (x === null) return before === after;
  const same = (t: string) => JSON.stringify(outside(t, path)) === JSON.stringify(x);
  if (same(after)) return true;
  for (const m of after.matchAll(/(^|\n)(GRUB_CMDLINE_LINUX="crashkernel=[^"\n]*"\r?\n)/g)) {
    const at = m.index! + m[1]!.length;
    const without = after.slice(0, at) + after.slice(at + m[2]!.length);
    if (same(without) || (at === without.length && same(without.replace(/\r?\n$/, "")))) return true;
  }
  return false;
}

/** Words of the lines setup edits in a BLS entry or /etc/kernel/cmdline, and the rest of the file, for comparing. */
function lineParts(text: string, bls: boolean): { rest: string[]; words: string[][] } {
  const rest: string[] = [];
  const words: string[][] = [];
  for (const line of text.split("\n")) {
    // The edited value is the options line's argument (the whole line of /etc/kernel/cmdline): its words are compared
    // apart, blanks between and around them are the editor's to set.
    const m = bls ? /^([ \t]*options)[ \t]+([^]*)$/.exec(line) : /^()([^]*)$/.exec(line);
    if (!m) rest.push(line);
    else {
      rest.push(`${m[1]}<words>`);
      words.push(m[2]!.split(SPACE).filter(Boolean));
    }
  }
  return { rest, words };
}

/** Runs one case; returns its outcome and, for a failure, what differed. */
export async function runCase(seed: number, scratch: string, keep = false): Promise<{ outcome: Outcome; detail?: string; kind: Box["kind"]; seconds: number }> {
  const r = rng(seed);
  const box = makeBox(r);
  const size = r.pick(SIZES);
  const asked = size.split(" ").map((w) => `crashkernel=${w}`);
  const root = join(scratch, `c${seed}`);
  const t0 = performance.now();
  let slowest = 0;
  let refusal = "";
  writeBox(root, box);
  const states: Record<string, string>[] = [readFiles(root, box)];
  const run = async (o: { size?: string; remove?: boolean }): Promise<Outcome | null> => {
    const t = performance.now();
    try {
      await setup({ root, ...o }, async () => {});
    } catch (e) {
      if (!(e instanceof KdumpError)) return "stack trace";
      refusal = e.message.replace(/^[^:]*:\d+:\d+: /, "").replace(/[A-Z_]+('s)? /, "").replace(/"[^"]*"|crashkernel=\S*/g, "…").slice(0, 60);
      const now = readFiles(root, box);
      return JSON.stringify(now) === JSON.stringify(states.at(-1)) && !(existsSync(join(root, "etc")) ? readdirSync(join(root, "etc"), { recursive: true }) : []).some((f) => String(f).includes("kdump-tmp")) ? "clean error" : "bytes changed outside";
    } finally {
      slowest = Math.max(slowest, (performance.now() - t) / 1000);
    }
    states.push(readFiles(root, box));
    return null;
  };
  const finish = (outcome: Outcome, detail?: string) => {
    if (keep) states.forEach((st, i) => writeFileSync(join(scratch, `c${seed}.state${i}.json`), JSON.stringify(st, null, 1)));
    else rmSync(root, { recursive: true, force: true });
    return { outcome: slowest > 5 && outcome === "ok" ? ("slow" as const) : outcome, detail, kind: box.kind, seconds: (performance.now() - t0) / 1000 };
  };
  const stop = (await run({ size })) ?? (await run({ size })) ?? (await run({ remove: true }));
  if (stop === "stack trace") return finish(stop, `seed ${seed}`);
  if (stop === "clean error") return finish(states.length === 1 ? "clean error" : "not idempotent", states.length === 1 ? refusal : `seed ${seed}: refused on run ${states.length}: ${refusal}`);
  if (stop) return finish(stop, `seed ${seed}`);
  const [s0, s1, s2, s3] = states as [Record<string, string>, Record<string, string>, Record<string, string>, Record<string, string>];
  if (JSON.stringify(s1) !== JSON.stringify(s2)) return finish("not idempotent", `seed ${seed}`);
  if (box.kind === "grub") {
    // grub-mkconfig sources /etc/default/grub, then grub.d/*.cfg in glob (C collation) order.
    const paths = Object.keys(box.files).sort((x, y) => (x === "/etc/default/grub" ? -1 : y === "/etc/default/grub" ? 1 : x < y ? -1 : x > y ? 1 : 0));
    for (const [a, b] of [[s0, s1], [s2, s3]] as const)
      for (const p of paths) if (!shellBytesKept(a[p]!, b[p]!, p)) return finish("bytes changed outside", `seed ${seed}: ${p}`);
    const dir = join(scratch, `b${seed}`);
    mkdirSync(dir);
    try {
      const { parses, sets } = await bashStates(dir, [s0, s1, s3], paths);
      if (sets.length !== 3) return finish("stack trace", `seed ${seed}: bash printed ${sets.length} states`);
      if (!parses[0]) return finish("input not shell");
      if (!parses[1] || !parses[2]) return finish("bash -n fails", `seed ${seed}`);
      if (others(sets[0]!) !== others(sets[1]!) || others(sets[0]!) !== others(sets[2]!)) return finish("other variable changed", `seed ${seed}`);
      const [w0, w1, w3] = sets.map((s) => cmdline(s!)) as [string[], string[], string[]];
      if (crashWords(w1).join(" ") !== asked.join(" ") || crashWords(w3).length) return finish("crashkernel wrong", `seed ${seed}: ${crashWords(w1).join(" ")} / ${crashWords(w3).join(" ")}`);
      for (const w of [w1, w3]) {
        const [a, b] = [noCrash(w0), noCrash(w)];
        const k = a.findIndex((x, i) => x !== b[i]);
        if (k >= 0 || a.length !== b.length) return finish("other words changed", `seed ${seed}: word ${k}: ${JSON.stringify(a.slice(k, k + 3))} became ${JSON.stringify(b.slice(k, k + 3))}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } else {
    for (const [a, b, set] of [[s0, s1, true], [s2, s3, false]] as const) {
      for (const p of Object.keys(b)) {
        const bls = p.startsWith("/boot/loader/entries/");
        if (!bls && p !== "/etc/kernel/cmdline") {
          if (a[p] !== b[p]) return finish("bytes changed outside", `seed ${seed}: ${p}`);
          continue;
        }
        if (a[p] === undefined) continue; // created from /proc/cmdline
        const x = lineParts(a[p]!, bls);
        const y = lineParts(b[p]!, bls);
        const restY = [...y.rest];
        if (y.words.length === x.words.length + 1) restY.splice(restY.lastIndexOf("options<words>"), 1); // the line setup adds
        const norm = (rs: string[]) => rs.map((l, i) => (i === rs.length - 1 ? l.replace(/\r$/, "") : l)).join("\n"); // an unterminated last line gains its end
        if (norm(restY) !== norm(x.rest)) return finish("bytes changed outside", `seed ${seed}: ${p}: ${JSON.stringify(norm(x.rest))} became ${JSON.stringify(norm(restY))}`);
        if (noCrash(x.words.flat()).join(" ") !== noCrash(y.words.flat()).join(" ")) return finish("other words changed", `seed ${seed}: ${p}`);
        const ck = crashWords(y.words.flat());
        if (set ? bls && ck.join(" ") !== asked.join(" ") : ck.length) return finish("crashkernel wrong", `seed ${seed}: ${p}: ${ck.join(" ")}`);
      }
    }
  }
  return finish("ok");
}

/** Runs `cases` cases from `seed` on; returns the count per outcome and the first failures. */
export async function fuzzConfig(o: { cases: number; seed?: number; onCase?: (i: number) => void }): Promise<{ counts: Record<string, number>; refusals: Record<string, number>; failures: string[]; seconds: number; slowest: number; peakRssMiB: number }> {
  const scratch = mkdtempSync(join(tmpdir(), "fuzz-config-"));
  const counts: Record<string, number> = {};
  const refusals: Record<string, number> = {};
  const failures: string[] = [];
  const t0 = performance.now();
  let slowest = 0;
  let peak = 0;
  try {
    for (let i = 0; i < o.cases; i++) {
      const c = await runCase((o.seed ?? 1) + i, scratch);
      const key = `${c.outcome} (${c.kind})`;
      counts[key] = (counts[key] ?? 0) + 1;
      if (!["ok", "clean error", "input not shell"].includes(c.outcome) && failures.length < 20) failures.push(`${c.outcome}: ${c.detail ?? ""}`);
      if (c.outcome === "clean error") refusals[c.detail!] = (refusals[c.detail!] ?? 0) + 1;
      slowest = Math.max(slowest, c.seconds);
      peak = Math.max(peak, process.memoryUsage().rss);
      o.onCase?.(i);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return { counts, refusals, failures, seconds: (performance.now() - t0) / 1000, slowest, peakRssMiB: Math.round(peak / 2 ** 20) };
}

/** The outcomes as a table. */
export function formatFuzz(r: Awaited<ReturnType<typeof fuzzConfig>>, cases: number): string {
  const rows = Object.entries(r.counts).sort((a, b) => b[1] - a[1]);
  return [
    `config fuzz: ${cases} cases in ${r.seconds.toFixed(1)} s (slowest case ${r.slowest.toFixed(2)} s, peak RSS ${r.peakRssMiB} MiB)`,
    "outcome (box)                            cases",
    ...rows.map(([k, n]) => `${k.padEnd(40)} ${String(n).padStart(5)}`),
    "",
    "clean errors by reason (kdump: FILE:LINE:COLUMN: …)",
    ...Object.entries(r.refusals).sort((a, b) => b[1] - a[1]).map(([k, n]) => `  ${k.padEnd(62)} ${String(n).padStart(5)}`),
    ...(r.failures.length ? ["", "first failures (rerun one with --cases 1 --seed N):", ...r.failures] : []),
  ].join("\n");
}

if (import.meta.main) {
  const arg = (name: string, d: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : d;
  };
  const cases = arg("cases", 200);
  const r = await fuzzConfig({ cases, seed: arg("seed", 1), onCase: (i) => (i + 1) % 100 === 0 && process.stderr.write(`fuzz:config: ${i + 1}/${cases}\n`) });
  console.log(formatFuzz(r, cases));
  const bad = Object.entries(r.counts).filter(([k]) => !/^(ok|clean error|input not shell) /.test(k));
  process.exit(bad.length ? 1 : 0);
}
