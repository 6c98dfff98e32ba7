// Lab dumps whose memory is mostly a process's anonymous data, ~560 MiB of pseudo-random words that it keeps:
// "thp" in transparent huge pages (mmap 2 MiB aligned + MADV_HUGEPAGE), "anon" in 4 KiB pages (a Bun typed array).
import { labDump, type LabDump } from "./dumps.ts";

/**
 * The filler. It writes every page before reading any, so faults allocate huge pages (a read first would map
 * the huge zero page, and the write after it splits the mapping into 4 KiB pages).
 */
const FILL_JS = `
const { dlopen, toArrayBuffer } = require("bun:ffi");
const c = dlopen("libc.so.6", { mmap: { args: ["ptr", "u64", "i32", "i32", "i32", "i64"], returns: "ptr" }, madvise: { args: ["ptr", "u64", "i32"], returns: "i32" } }).symbols;
const n = 560 << 20, huge = 2 << 20;
const p = c.mmap(null, n + huge, 3 /* PROT_READ|PROT_WRITE */, 0x22 /* MAP_PRIVATE|MAP_ANONYMOUS */, -1, 0);
const a = Math.ceil(p / huge) * huge;
c.madvise(a, n, 14 /* MADV_HUGEPAGE */);
const b = new Uint32Array(toArrayBuffer(a, 0, n));
let x = 2463534242;
for (let i = 0; i < b.length; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; b[i] = x; }
require("fs").writeFileSync("/tmp/filled", "1");
setInterval(() => b[0]++, 1000);
`;

const PREPARE = `
bun /lab/thpfill.js &
i=0; while [ ! -e /tmp/filled ] && [ $i -lt 300 ]; do sleep 1; i=$((i+1)); done
grep -E "MemFree|AnonPages|AnonHugePages" /proc/meminfo
`;

/**
 * The THP-heavy dump of kernel line `line` ("6.1" or "6.12"), made once and cached as scenario "thp".
 * @example const d = await thpDump("6.12"); openDump(d.vmcore)
 */
export function thpDump(line: string): Promise<LabDump> {
  return labDump({
    line,
    scenario: "thp",
    cmdline: "transparent_hugepage=always",
    prepare: PREPARE,
    files: { "/lab/thpfill.js": new TextEncoder().encode(FILL_JS) },
  });
}

/** A typed array: Bun reads its fresh pages before writing them, so they end up in 4 KiB pages, not THPs. */
const ANON_PREPARE = `
bun -e 'const b = new Uint32Array((560 << 20) / 4); let x = 2463534242;
for (let i = 0; i < b.length; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; b[i] = x; }
require("fs").writeFileSync("/tmp/filled", String(b[12345])); setInterval(() => b[0]++, 1000);' &
i=0; while [ ! -e /tmp/filled ] && [ $i -lt 300 ]; do sleep 1; i=$((i+1)); done
grep -E "MemFree|AnonPages|AnonHugePages" /proc/meminfo
`;

/**
 * The dump of line `line` whose memory is mostly anonymous 4 KiB pages, cached as scenario "anon".
 * @example const d = await anonDump("6.1"); openDump(d.vmcore)
 */
export function anonDump(line: string): Promise<LabDump> {
  return labDump({ line, scenario: "anon", cmdline: "transparent_hugepage=always", prepare: ANON_PREPARE });
}
