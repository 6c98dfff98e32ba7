// How the capture grows with the guest's RAM: a lab rehearsal (load → crash → capture → reboot → analyze) of a 6.1
// guest of each size, whose crash leaves memory in use (anonymous memory held by a process, page cache, dentries),
// captured by our collector at its defaults (-d 31, zstd, in the capture kernel). One table: the collector's wall
// time, its peak anonymous and resident memory (the collector's own "peak memory" report), the dump's size, and the
// in-guest analyze phase. Rows are cached in .lab/scale-rows.json with the date they were measured (a 16 GiB
// rehearsal takes many minutes under TCG); --fresh measures again.
// Run: bun bench/scale.ts [MiB…] [--fresh]   (default 1024 16384 65536; above 16 GiB QEMU gets a reserve=off RAM backend)
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fetchKernel } from "../lib/lab/kernels.ts";
import { labDir } from "../lib/lab/labdir.ts";
import { rehearse } from "../lib/lab/rehearse.ts";

/** One measured capture. */
interface Row {
  kernel: string;
  ramMiB: number;
  collector: string;
  level: number;
  codec: string;
  passed: boolean;
  reason?: string;
  captureSeconds: number | null;
  peakAnon: string | null;
  peakResident: string | null;
  dumpBytes: number;
  pagesWritten: string | null;
  analyzeSeconds: number | null;
  measured: string;
}

const args = process.argv.slice(2);
const fresh = args.includes("--fresh");
const sizes = args.filter((a) => /^\d+$/.test(a)).map(Number);
const cacheFile = join(labDir(), "scale-rows.json");
const cache: Row[] = existsSync(cacheFile) ? JSON.parse(readFileSync(cacheFile, "utf8")) : [];
const kernel = await fetchKernel("6.1");

/** The crash: hold a quarter of RAM (at most 3 GiB) of non-zero anonymous memory, read files into the cache, then sysrq-c. */
function crashJob(ramMiB: number): string {
  const anon = Math.min(3072, Math.floor(ramMiB / 4));
  const fill = `const a=[];for(let i=0;i<${anon};i++){const b=new Uint8Array(1<<20);b.fill((i%250)+1);a.push(b)}console.log("SCALE-FILLED ${anon} MiB");setInterval(()=>a.length,1e6)`;
  return [
    `bun -e '${fill}' > /tmp/scale-filled 2>&1 &`,
    `i=0; while ! grep -q SCALE-FILLED /tmp/scale-filled 2>/dev/null && [ $i -lt 900 ]; do sleep 1; i=$((i+1)); done; cat /tmp/scale-filled`,
    `cat "$(command -v bun)" > /dev/null; find / -xdev > /dev/null 2>&1`,
    `grep -E 'MemFree|AnonPages|^Cached|Slab' /proc/meminfo | sed 's/^/SCALE-MEMINFO /'`,
    `bunx kdump recipes/trigger.ts --yes`,
  ].join("\n  ");
}

async function measure(ramMiB: number): Promise<Row> {
  let saved: string | undefined;
  const r = await rehearse({
    kernel,
    memoryMiB: ramMiB,
    cpus: 1,
    crashkernel: "256M",
    crash: crashJob(ramMiB),
    timeoutSeconds: 3000,
    onLine: (l) => {
      if (/saved \S+ \(kdump/.test(l)) saved = l;
      if (/SCALE-|kdump-capture:/.test(l)) console.error(`  [${ramMiB} MiB] ${l.trim()}`);
    },
  });
  const m = saved ? /: (\d+) of \d+ pages, .* in ([\d.]+) s;.*peak memory ([\d.]+ \w+) anonymous, ([\d.]+ \w+) resident/.exec(saved) : null;
  return {
    kernel: r.kernel,
    ramMiB,
    collector: "ours",
    level: 31,
    codec: "zstd",
    passed: r.passed,
    ...(r.reason && { reason: r.reason }),
    captureSeconds: m ? Number(m[2]) : null,
    peakAnon: m?.[3] ?? null,
    peakResident: m?.[4] ?? null,
    dumpBytes: r.dumpBytes,
    pagesWritten: m?.[1] ?? null,
    analyzeSeconds: r.phases.find((p) => p.name === "analyze")?.seconds ?? null,
    measured: new Date().toISOString(),
  };
}

for (const ramMiB of sizes.length ? sizes : [1024, 16384, 65536]) {
  const key = (x: Row) => x.kernel === kernel.release && x.ramMiB === ramMiB && x.collector === "ours" && x.level === 31 && x.codec === "zstd";
  if (!fresh && cache.some(key)) continue;
  console.error(`measuring ${ramMiB} MiB…`);
  const row = await measure(ramMiB);
  cache.splice(0, cache.length, ...cache.filter((x) => !key(x)), row);
  writeFileSync(cacheFile, JSON.stringify(cache, null, 2) + "\n");
}

const cell = (v: unknown, w: number) => String(v ?? "-").padStart(w);
console.log(`${"RAM".padStart(8)} ${"collector".padEnd(10)} ${"-d".padStart(3)} ${"codec".padEnd(5)} ${cell("capture s", 10)} ${cell("peak anon", 11)} ${cell("peak RSS", 11)} ${cell("dump MiB", 9)} ${cell("pages", 8)} ${cell("analyze s", 10)}  measured`);
for (const x of cache.filter((x) => x.kernel === kernel.release).sort((a, b) => a.ramMiB - b.ramMiB))
  console.log(
    `${cell(`${x.ramMiB / 1024} GiB`, 8)} ${x.collector.padEnd(10)} ${cell(x.level, 3)} ${x.codec.padEnd(5)} ${cell(x.captureSeconds, 10)} ${cell(x.peakAnon, 11)} ${cell(x.peakResident, 11)} ${cell((x.dumpBytes / 1048576).toFixed(1), 9)} ${cell(x.pagesWritten, 8)} ${cell(x.analyzeSeconds, 10)}  ${x.measured.slice(0, 16)}${x.passed ? "" : ` FAILED: ${x.reason}`}`,
  );
// issue 17's bound: the collector's anonymous memory grows by at most 16 MB from the 1 GiB capture to the 64 GiB one
const mib = (x?: Row) => (x?.passed && x.peakAnon ? Number(/^[\d.]+/.exec(x.peakAnon)![0]) * (x.peakAnon.endsWith("GiB") ? 1024 : 1) : null);
const ours = cache.filter((x) => x.kernel === kernel.release && x.collector === "ours" && x.level === 31 && x.codec === "zstd");
const [small, big] = [mib(ours.find((x) => x.ramMiB === 1024)), mib(ours.find((x) => x.ramMiB === 65536))];
if (small !== null && big !== null) console.log(`peak anonymous growth 1 -> 64 GiB: ${(big - small).toFixed(1)} MiB (${((big - small) * 1.048576).toFixed(1)} MB; bound 16 MB)`);
