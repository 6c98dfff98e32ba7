// The kallsyms scan (the fallback without VMCOREINFO's addresses or a System.map) on Debian's stripped vmlinux
// images: it finds exactly the tables the build's System.map names, in 6.1's order and in 6.12's.
import { describe, expect, test } from "bun:test";
import type { KallsymsAddrs } from "../../lib/kernel/kallsyms.ts";
import { scanKallsyms } from "../../lib/kernel/kallsyms_scan.ts";
import { ElfImage, readSystemMap } from "./_elfimage.ts";
import { debugKernel, strippedVmlinux } from "./_images.ts";

const TABLES = ["num_syms", "names", "token_table", "token_index", "offsets", "relative_base"];

describe.each(["6.1", "6.12"])("scanKallsyms on Debian %s", (line) => {
  test("scanKallsyms() finds the tables System.map names", async () => {
    const img = new ElfImage((await strippedVmlinux(line)).path);
    const map = readSystemMap((await debugKernel(line)).systemMap);
    const found = scanKallsyms((a, n) => img.read(a, n), map.addr.get("_stext")!);
    const want = Object.fromEntries(TABLES.map((t) => [t, map.addr.get(`kallsyms_${t}`)!])) as unknown as KallsymsAddrs;
    expect(found).toContainEqual(want);
  }, 60_000);
});

test("scanKallsyms() finds nothing in memory without the tables", () => {
  const zeros = new Uint8Array(4 << 20);
  expect(scanKallsyms((_a, n) => zeros.subarray(0, n), 0xffffffff81000000n)).toEqual([]);
});
