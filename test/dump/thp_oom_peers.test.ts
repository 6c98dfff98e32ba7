// `collect -d 31` against makedumpfile 1.7.8 (the lab's sid root) on a THP-heavy out-of-memory panic of every kernel
// line (5.10, 6.1, 6.12 and the newest): per codec (zlib -c, lzo -l, zstd -z) ours is at most 1.02x its size, and
// crash 9.0.2 (sid root, the line's -dbg vmlinux) opens ours wherever it opens makedumpfile's. Matrix only: each line's
// dump is a guest run (not in test/prepare.ts), the sid root a debootstrap and each -dbg vmlinux a 260-350 MB download.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { collect, formatCollect } from "../../lib/collect/collect.ts";
import { KdumpDump } from "../../lib/dump/kdump_compressed.ts";
import { openDump } from "../../lib/dump/open.ts";
import { memMapSections, pageLayout } from "../../lib/kernel/memmap.ts";
import { openKernel } from "../../lib/kernel/open.ts";
import { labDir } from "../../lib/lab/labdir.ts";
import { inSid } from "../../lib/lab/sid_root.ts";
import { MATRIX } from "../_matrix.ts";
import { debugKernel } from "../kernel/_images.ts";
import { thpOomDump } from "../lab/thp_dump.ts";
import { LINES, NEW_LINES } from "./_peers.ts";

/** A guest run (queued for a slot), three collects, three makedumpfile runs and six crash runs under load. */
const BUDGET = 3_600_000;
const ALL = [...NEW_LINES, ...LINES];

/** Our codec names and makedumpfile's flag for each. */
const CODECS = [
  ["zlib", "-c"],
  ["lzo", "-l"],
  ["zstd", "-z"],
] as const;

/** makedumpfile 1.7.8 `flag` -d 31 of `vmcore` into `dir`; the output's path. */
async function makedumpfile178(vmcore: string, flag: string, dir: string): Promise<string> {
  const out = `vmcore.mdf${flag}`;
  const r = await inSid(["makedumpfile", flag, "-d", "31", `/host/dump/${basename(vmcore)}`, `/host/out/${out}`], { [dirname(vmcore)]: "/host/dump", [dir]: "/host/out" });
  if (r.exitCode !== 0) throw new Error(`makedumpfile 1.7.8 ${flag} -d 31 failed: ${r.stderr.slice(-400)}`);
  return join(dir, out);
}

/** crash 9.0.2's answer to `sys` on `file` with the -dbg vmlinux (stdout and stderr together). */
async function crash902(vmlinux: string, file: string): Promise<string> {
  const r = await inSid(["sh", "-c", `printf 'sys\\nquit\\n' | crash -s /host/vmlinux/${basename(vmlinux)} /host/dump/${basename(file)} 2>&1`], { [dirname(vmlinux)]: "/host/vmlinux", [dirname(file)]: "/host/dump" });
  return r.stdout.toString();
}

/** The page frames a kdump-compressed file holds. */
function keptFrames(path: string): Set<number> {
  const d = openDump(path) as KdumpDump;
  const s = new Set<number>();
  for (const r of d.ranges) for (let pfn = Number(r.start / 4096n); pfn < Number(r.end / 4096n); pfn++) s.add(pfn);
  d.close();
  return s;
}

/**
 * Frames one file keeps and the other drops, and of those only `ours` keeps, the ones makedumpfile 1.7.8 drops by
 * mistake: page[1] of a compound page whose head both keep (a slab or a large kmalloc), whose `mapping` word holds
 * the folio's _large_mapcount on 7.x (-1: odd, so makedumpfile takes it for an anonymous page).
 */
function frameDiff(vmcore: string, ours: Set<number>, theirs: Set<number>): { onlyTheirs: number[]; onlyOurs: number[]; firstTails: number[] } {
  const onlyTheirs = [...theirs].filter((p) => !ours.has(p));
  const onlyOurs = [...ours].filter((p) => !theirs.has(p));
  const dump = openDump(vmcore);
  try {
    const k = openKernel(dump);
    const L = pageLayout(k.info);
    const [sec] = memMapSections(k, Math.max(0, ...onlyOurs) + 1);
    const page = (pfn: number) => sec!.vaddr + BigInt((pfn - sec!.startPfn) * L.size);
    const firstTails = onlyOurs.filter(
      (p) => theirs.has(p - 1) && (k.u32(page(p - 1) + BigInt(L.flags)) & L.headMaskLo) !== 0 && (k.u64(page(p) + BigInt(L.mapping)) & 1n) === 1n,
    );
    return { onlyTheirs, onlyOurs, firstTails };
  } finally {
    dump.close();
  }
}

/** crash printed the dump's system data: it read the kernel's structures through the dump's pages. */
const opens = (out: string) => /RELEASE: \S+/.test(out) && /PANIC: /.test(out) && !/invalid structure member offset|crash: cannot|page excluded/.test(out);

describe.skipIf(!MATRIX).each(ALL)("a THP-heavy OOM panic on %s", (line) => {
  test("collect -d 31 is at most 1.02x makedumpfile 1.7.8 per codec, and crash 9.0.2 opens ours wherever it opens makedumpfile's", async () => {
    const d = await thpOomDump(line);
    // the scenario is what it claims: the OOM killer panicked, with most memory in anonymous huge pages
    expect(d.console).toMatch(/Kernel panic - not syncing: Out of memory: system-wide panic_on_oom is enabled/);
    const thpKiB = Math.max(...[...d.console.matchAll(/anon_thp: ?(\d+)kB/g)].map((m) => Number(m[1])));
    expect(thpKiB).toBeGreaterThan(256 * 1024);

    const dbg = await debugKernel(line);
    const dir = mkdtempSync(join(labDir(), "thp-oom-peers-"));
    try {
      for (const [codec, flag] of CODECS) {
        const r = await collect({ from: d.vmcore, out: join(dir, codec), host: "lab", level: 31, compress: codec, progress: () => {} });
        const ours = join(dir, codec, readdirSync(join(dir, codec)).find((n) => n.startsWith("lab-"))!, "vmcore");
        const theirs = await makedumpfile178(d.vmcore, flag, dir);
        const ratio = statSync(ours).size / statSync(theirs).size;
        console.log(`thp-oom ${d.kernel.release} ${codec}: ours ${statSync(ours).size} B, makedumpfile 1.7.8 ${flag} ${statSync(theirs).size} B, ratio ${ratio.toFixed(3)} (anon_thp ${thpKiB} kB)`);
        expect(ratio, formatCollect(r)).toBeLessThanOrEqual(1.02);
        if (codec === "lzo") {
          // the same frames, but for makedumpfile's 7.x mistake: we never drop a frame it keeps
          const f = frameDiff(d.vmcore, keptFrames(ours), keptFrames(theirs));
          console.log(`thp-oom ${d.kernel.release}: frames only makedumpfile keeps ${f.onlyTheirs.length}, only ours ${f.onlyOurs.length} (${f.firstTails.length} of them page[1] of a kept compound page)`);
          expect(f.onlyTheirs).toEqual([]);
          expect(f.onlyOurs).toEqual(f.firstTails);
        }
        const [a, b] = [await crash902(dbg.vmlinux, ours), await crash902(dbg.vmlinux, theirs)];
        console.log(`thp-oom ${d.kernel.release} ${codec}: crash 9.0.2 opens ours ${opens(a)}, makedumpfile's ${opens(b)}`);
        if (opens(b)) expect(opens(a), a.slice(-600)).toBe(true);
        // crash 9.0.2 opens no 7.x dump ("invalid structure member offset: module_num_gpl_syms": struct module moved on
        // in 7.x); then it fails on both files alike, for that reason. On the older lines it must open makedumpfile's.
        else if (line === "newest") expect([a, b].map((o) => /module_num_gpl_syms/.test(o))).toEqual([true, true]);
        else expect(opens(b), b.slice(-600)).toBe(true);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, BUDGET);
});
