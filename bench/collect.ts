// Benchmark: `kdump collect -d 31` next to Debian's makedumpfile 1.7.2 on the same lab dumps, in one run: zlib,
// lzo, and zlib with 2 threads (makedumpfile --num-threads 2), then our zstd (Debian's makedumpfile has none).
// Each command runs once to warm the page cache, then once timed: wall time of the whole process (Bun's start
// included), peak RSS from GNU time, output size; throughput = the dump's memory (all its pages) per second.
// Run: bun bench/collect.ts [VMCORE…]   (default: the THP-heavy 6.1 and 6.12 lab dumps)
import { $ } from "bun";
import { mkdtempSync, rmSync, statSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDump } from "../lib/dump/open.ts";
import { thpDump } from "../test/lab/thp_dump.ts";

const ROOT = join(import.meta.dir, "..");

interface Run {
  seconds: number;
  rssKiB: number;
  bytes: number;
}

/**
 * Runs `cmd` (which writes `out`) with GNU time; returns wall seconds, peak RSS and the output's size. A run killed
 * by a signal is run once more: makedumpfile 1.7.2 with --num-threads now and then aborts as its threads exit
 * ("libgcc_s.so.1 must be installed for pthread_exit to work") after writing a complete dump.
 */
async function measure(cmd: string[], out: () => string, again = true): Promise<Run> {
  const started = performance.now();
  const r = await $`/usr/bin/time -f ${"BENCH %M"} ${cmd}`.quiet().nothrow();
  const seconds = (performance.now() - started) / 1000;
  const m = /BENCH (\d+)/.exec(r.stderr.toString());
  if (again && /terminated by signal/.test(r.stderr.toString())) {
    console.log(`  (${cmd[0]} was killed by a signal; measuring it again)`);
    return measure(cmd, out, false);
  }
  if (r.exitCode !== 0 || !m) throw new Error(`${cmd.join(" ")} failed: ${r.stderr.toString().slice(-300)}`);
  return { seconds, rssKiB: Number(m[1]), bytes: statSync(out()).size };
}

const dumps = process.argv.length > 2 ? process.argv.slice(2) : [(await thpDump("6.1")).vmcore, (await thpDump("6.12")).vmcore];
const tmp = mkdtempSync(join(tmpdir(), "bench-collect-"));
try {
  for (const vmcore of dumps) {
    const d = openDump(vmcore);
    const memory = d.ranges.reduce((n, r) => n + Number(r.end - r.start), 0);
    d.close();
    const mib = (n: number) => (n / 2 ** 20).toFixed(1);
    /** One timed makedumpfile run after a warm-up. */
    const peer = async (args: string[]) => {
      const out = join(tmp, "peer");
      const cmd = ["makedumpfile", ...args, "-d", "31", vmcore, out];
      for (let i = 0; i < 2; i++) {
        rmSync(out, { force: true });
        const r = await measure(cmd, () => out);
        if (i === 1) return r;
      }
      throw new Error("unreachable");
    };
    /** One timed run of ours after a warm-up. */
    const ours = async (args: string[]) => {
      for (let i = 0; i < 2; i++) {
        const out = join(tmp, `ours-${i}`);
        rmSync(out, { recursive: true, force: true });
        const cmd = [process.execPath, join(ROOT, "kdump.ts"), "collect", "--from", vmcore, "--out", out, "--host", "bench", ...args];
        const r = await measure(cmd, () => join(out, readdirSync(out)[0]!, "vmcore"));
        if (i === 1) return r;
      }
      throw new Error("unreachable");
    };
    const line = (name: string, o: Run, p: Run | null) => {
      const rate = (r: Run) => `${mib(memory / r.seconds)} MiB/s`;
      const ratio = (a: number, b: number) => (a / b).toFixed(2);
      console.log(`  ${name}`);
      if (!p) {
        console.log(`    ours ${o.seconds.toFixed(2)} s (${rate(o)}), ${mib(o.rssKiB * 1024)} MiB peak RSS, ${mib(o.bytes)} MiB written`);
        return;
      }
      console.log(`    time: ours ${o.seconds.toFixed(2)} s (${rate(o)}), peer ${p.seconds.toFixed(2)} s (${rate(p)}), ratio ${ratio(o.seconds, p.seconds)}`);
      console.log(`    peak RSS: ours ${mib(o.rssKiB * 1024)} MiB, peer ${mib(p.rssKiB * 1024)} MiB, ratio ${ratio(o.rssKiB, p.rssKiB)}`);
      console.log(`    size: ours ${mib(o.bytes)} MiB, peer ${mib(p.bytes)} MiB, ratio ${ratio(o.bytes, p.bytes)}`);
    };
    console.log(`collect -d 31 ${vmcore} (${mib(memory)} MiB of memory)`);
    line("zlib (makedumpfile -c)", await ours(["--compress", "zlib"]), await peer(["-c"]));
    line("lzo (makedumpfile -l)", await ours(["--compress", "lzo"]), await peer(["-l"]));
    line("zlib, 2 threads (makedumpfile -c --num-threads 2)", await ours(["--compress", "zlib", "--threads", "2"]), await peer(["-c", "--num-threads", "2"]));
    line("zstd (ours only: Debian's makedumpfile has no zstd)", await ours(["--compress", "zstd"]), null);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
