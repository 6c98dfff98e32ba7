// An OOM panic from a leaking slab cache (the leak module, vm.panic_on_oom=1), on both lines: kmem -i against the
// Mem-Info block of the dump's own OOM report (free, slab, page cache, shmem within 1% of MemTotal; TOTAL MEM equals
// the MemTotal the guest printed), kmem -s's largest caches within 2% of the report's "Unreclaimable slab info", and
// the report naming the leaking cache. Boots a guest per line the first time (cached under .lab/dumps): matrix only.
import { describe, expect, test } from "bun:test";
import { analyze } from "../../lib/analyze/command.ts";
import type { Cause } from "../../lib/analyze/explain.ts";
import type { MemInfo } from "../../lib/kernel/meminfo.ts";
import { LINES } from "../dump/_peers.ts";
import { MATRIX } from "../_matrix.ts";
import { oomSlabDump } from "./_panics.ts";

const LAB = 1_800_000;

/** The number after `name` in the log text (show_mem()'s "name:N" and "N name" fields). */
function field(log: string, re: RegExp): number {
  const m = re.exec(log);
  if (!m) throw new Error(`the OOM report has no ${re}`);
  return Number(m[1]);
}

/** The OOM report's "Unreclaimable slab info" rows: name, used and total KiB. */
function unreclaimable(log: string): { name: string; used: number; total: number }[] {
  const at = log.lastIndexOf("Unreclaimable slab info:");
  expect(at).toBeGreaterThan(0);
  return [...log.slice(at).matchAll(/^\[[^\]]*\] (\S+)\s+(\d+)KB\s+(\d+)KB$/gm)].map((m) => ({ name: m[1]!, used: Number(m[2]), total: Number(m[3]) }));
}

describe.if(MATRIX).each(LINES)("an OOM from a leaking slab cache on %s (matrix)", (line) => {
  test("kmem -i: TOTAL MEM is MemTotal; FREE, SLAB, CACHED and SHARED within 1% of it from the OOM report's Mem-Info", async () => {
    const d = await oomSlabDump(line);
    const log = analyze(d.vmcore, "log");
    expect(log).toContain("Mem-Info:");
    const memTotalKb = Number(/MEMINFO-BEGIN[\s\S]*?MemTotal:\s+(\d+) kB/.exec(d.console)![1]);
    const m = JSON.parse(analyze(d.vmcore, "kmem", { json: true, args: ["-i"] }) as string) as MemInfo;
    const kb = m.pageSize / 1024;
    expect(m.total * kb).toBe(memTotalKb);
    const near = (name: string, ours: number, theirs: number) => expect([name, ours, Math.abs(ours - theirs) * kb <= memTotalKb / 100]).toEqual([name, ours, true]);
    near("free", m.free, field(log, /\bfree:(\d+) free_pcp/));
    near("slab", m.slab, field(log, /slab_reclaimable:(\d+)/) + field(log, /slab_unreclaimable:(\d+)/));
    near("page cache", m.cached + m.buffers + m.swapCached, field(log, /(\d+) total pagecache pages/));
    near("shmem", m.shared, field(log, /\bshmem:(\d+)/));
    // most of memory is the leak's slab
    expect(m.slab).toBeGreaterThan(m.total / 2);
  }, LAB);

  test("kmem -s: the 10 largest unreclaimable caches within 2% of the OOM report's slab info; kdump_leak only grew since slabinfo", async () => {
    const d = await oomSlabDump(line);
    const report = unreclaimable(analyze(d.vmcore, "log")).sort((a, b) => b.total - a.total).slice(0, 10);
    expect(report.length).toBe(10);
    expect(report[0]!.name).toBe("kdump_leak");
    const ours = JSON.parse(analyze(d.vmcore, "kmem", { json: true, args: ["-s"] }) as string) as { name: string; size: number; allocated: number; total: number }[];
    for (const r of report) {
      const c = ours.find((o) => o.name === r.name)!;
      expect(c).toBeDefined();
      const [used, total] = [Math.floor((c.allocated * c.size) / 1024), Math.floor((c.total * c.size) / 1024)];
      expect([r.name, Math.abs(total - r.total) <= r.total * 0.02, Math.abs(used - r.used) <= r.used * 0.02]).toEqual([r.name, true, true]);
    }
    const before = Number(/SLABINFO-BEGIN[\s\S]*?\nkdump_leak\s+(\d+)/.exec(d.console.replace(/\r/g, ""))![1]);
    expect(ours.find((o) => o.name === "kdump_leak")!.allocated).toBeGreaterThan(before);
  }, LAB);

  test("the report names the out-of-memory panic and the leaking cache, with kmem -i and the largest caches", async () => {
    const d = await oomSlabDump(line);
    const { cause } = JSON.parse(analyze(d.vmcore, "report", { json: true })) as { cause: Cause };
    expect(cause.kind).toBe("oom");
    expect(cause.summary).toMatch(/^out of memory: slab cache kdump_leak holds \d+(\.\d)? MB \(\d+% of memory/);
    expect(cause.slabs![0]!.name).toBe("kdump_leak");
    const text = analyze(d.vmcore);
    expect(text).toMatch(/\nCAUSE: out of memory: slab cache kdump_leak holds /);
    expect(text).toMatch(/\nmemory \(kmem -i\):\n\s+PAGES\s+TOTAL\s+PERCENTAGE\n\s+TOTAL MEM /);
    expect(text).toMatch(/\nlargest slab caches:\n.*\n  kdump_leak /);
  }, LAB);
});
