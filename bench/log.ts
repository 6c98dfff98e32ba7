// Benchmark: `kdump analyze VMCORE log` next to kexec-tools' vmcore-dmesg on the same 1 GiB lab dump (ELF), one
// timed run each after one warm-up run: wall time of the whole process (Bun's start included), peak RSS from GNU
// time. Run: bun bench/log.ts [VMCORE…]
import { $ } from "bun";
import { join } from "node:path";
import { kexecTools } from "../lib/lab/peers.ts";
import { LINES, sysrqDump } from "../test/dump/_peers.ts";

const ROOT = join(import.meta.dir, "..");

/** Wall seconds and peak RSS (KiB) of one run of `cmd`, its stdout discarded. */
async function measure(cmd: string[]): Promise<{ seconds: number; rssKiB: number }> {
  const started = performance.now();
  const r = await $`/usr/bin/time -f ${"BENCH %M"} ${cmd} > /dev/null`.quiet().nothrow();
  const seconds = (performance.now() - started) / 1000;
  const m = /BENCH (\d+)/.exec(r.stderr.toString());
  if (r.exitCode !== 0 || !m) throw new Error(`${cmd.join(" ")} failed: ${r.stderr.toString().slice(-300)}`);
  return { seconds, rssKiB: Number(m[1]) };
}

const dumps = process.argv.length > 2 ? process.argv.slice(2) : await Promise.all(LINES.map(async (l) => (await sysrqDump(l)).vmcore));
const { vmcoreDmesg } = await kexecTools();
for (const vmcore of dumps) {
  const ours = [process.execPath, join(ROOT, "kdump.ts"), "analyze", vmcore, "log"];
  const peer = [vmcoreDmesg, vmcore];
  await measure(ours); // warm-up: the file's pages in the page cache, Bun's code cache
  await measure(peer);
  const o = await measure(ours);
  const p = await measure(peer);
  const ratio = (a: number, b: number) => (b > 0 ? (a / b).toFixed(1) : "inf");
  console.log(`log ${vmcore}`);
  console.log(`  time: ours ${o.seconds.toFixed(3)} s, peer ${p.seconds.toFixed(3)} s, ratio ${ratio(o.seconds, p.seconds)}`);
  console.log(`  peak RSS: ours ${(o.rssKiB / 1024).toFixed(1)} MiB, peer ${(p.rssKiB / 1024).toFixed(1)} MiB, ratio ${ratio(o.rssKiB, p.rssKiB)}`);
}
