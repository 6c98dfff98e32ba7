// makedumpfile 1.7.2 as an oracle for filtering: its excluded-page counts per category at -d 31
// (--message-level 31), cached as JSON beside the lab dump; and a collect helper writing our output to a temp dir.
import { existsSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { $ } from "bun";
import { buildOnce } from "../../lib/lab/lock.ts";
import { collect, type CollectOptions, type CollectResult } from "../../lib/collect/collect.ts";
import type { ExcludedCounts } from "../../lib/collect/filter.ts";

/** makedumpfile's report: excluded pages by category, and what it kept. */
export interface MakedumpfileCounts extends ExcludedCounts {
  /** "Remaining pages" (it counts frames twice where PT_LOADs overlap). */
  remaining: number;
}

/** Runs makedumpfile -c -d 31 --message-level 31 on `vmcore` once and parses its counts. */
export async function makedumpfileCounts(vmcore: string): Promise<MakedumpfileCounts> {
  const cache = join(dirname(vmcore), "makedumpfile-d31-counts.json");
  return buildOnce(cache, () => (existsSync(cache) ? (JSON.parse(readFileSync(cache, "utf8")) as MakedumpfileCounts) : undefined), () => countPages(vmcore, cache));
}

async function countPages(vmcore: string, cache: string): Promise<MakedumpfileCounts> {
  const tmp = mkdtempSync(join(tmpdir(), "mdf-"));
  try {
    const r = await $`makedumpfile -c -d 31 --message-level 31 ${vmcore} ${join(tmp, "out")}`.quiet().nothrow();
    const text = r.stdout.toString() + r.stderr.toString();
    const num = (label: string) => {
      const m = new RegExp(`${label}\\s*:\\s*0x([0-9a-f]+)`).exec(text);
      if (!m) throw new Error(`makedumpfile printed no "${label}" (exit ${r.exitCode}): ${text.slice(-400)}`);
      return parseInt(m[1]!, 16);
    };
    const counts: MakedumpfileCounts = {
      zero: num("Pages filled with zero"),
      cache: num("Non-private cache pages"),
      cachePrivate: num("Private cache pages"),
      user: num("User process data pages"),
      free: num("Free pages"),
      hwpoison: num("Hwpoison pages"),
      offline: num("Offline pages"),
      remaining: num("Remaining pages"),
    };
    writeFileSync(`${cache}.tmp`, JSON.stringify(counts));
    renameSync(`${cache}.tmp`, cache);
    return counts;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Runs our collector on `from` into a fresh temp dir; returns the result and a cleanup. */
export async function collectTemp(from: string, o: Partial<CollectOptions> = {}): Promise<CollectResult & { dir: string; cleanup: () => void }> {
  const out = mkdtempSync(join(tmpdir(), "collect-"));
  const r = await collect({ from, out, host: "lab", progress: () => {}, ...o });
  return { ...r, dir: out, cleanup: () => rmSync(out, { recursive: true, force: true }) };
}

/** The single dump folder under a collect output root. */
export function dumpFolder(root: string): string {
  const d = readdirSync(root);
  if (d.length !== 1) throw new Error(`expected one dump folder in ${root}, found ${d.join(", ")}`);
  return join(root, d[0]!);
}
