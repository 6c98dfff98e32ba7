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

/**
 * The OOM filler: maps anonymous memory in 2 MiB-aligned 32 MiB chunks and copies a 2 MiB block of pseudo-random
 * words into each (every page written before any is read: huge pages, not the huge zero page), until the OOM killer
 * panics the kernel. No mlockall(): it would populate every region Bun has reserved, in 4 KiB pages, and run out of
 * memory before the first chunk.
 */
const OOM_FILL_JS = `
const { dlopen, toArrayBuffer } = require("bun:ffi");
const c = dlopen("libc.so.6", {
  mmap: { args: ["ptr", "u64", "i32", "i32", "i32", "i64"], returns: "ptr" },
  madvise: { args: ["ptr", "u64", "i32"], returns: "i32" },
}).symbols;
const huge = 2 << 20, chunk = 32 << 20;
const block = new Uint32Array(huge / 4);
let x = 2463534242;
for (let i = 0; i < block.length; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; block[i] = x; }
const fs = require("fs");
const say = (line) => fs.writeSync(1, line + "\\n"); // unbuffered: the last line before the panic reaches the console
const anonThp = () => /AnonHugePages:\\s+(\\d+)/.exec(fs.readFileSync("/proc/meminfo", "utf8"))[1];
for (let n = 1; ; n++) {
  const p = c.mmap(null, chunk + huge, 3 /* PROT_READ|PROT_WRITE */, 0x22 /* MAP_PRIVATE|MAP_ANONYMOUS */, -1, 0);
  if (!p || p === -1 || p === 0xffffffffffffffff) { say("LAB-MMAP-FAILED"); break; }
  const a = Math.ceil(p / huge) * huge;
  c.madvise(a, chunk, 14 /* MADV_HUGEPAGE */);
  const b = new Uint32Array(toArrayBuffer(a, 0, chunk));
  for (let o = 0; o < b.length; o += block.length) { block[0] = n * 65536 + o; b.set(block, o); }
  say("LAB-FILLED " + n * 32 + " MiB, AnonHugePages " + anonThp() + " kB");
}
`;

/**
 * A THP-heavy out-of-memory panic of kernel line `line` (any lab line): transparent_hugepage=always, vm.panic_on_oom=1,
 * and a process that fills anonymous memory with pseudo-random words until the OOM killer panics the kernel; cached as
 * scenario "thp-oom". The kernel's OOM report (Mem-Info, with anon_thp per node) is in the dump's log and the console.
 * @example const d = await thpOomDump("newest"); openDump(d.vmcore)
 */
export function thpOomDump(line: string): Promise<LabDump> {
  return labDump({
    line,
    scenario: "thp-oom",
    cmdline: "transparent_hugepage=always",
    files: { "/lab/oomfill.js": new TextEncoder().encode(OOM_FILL_JS) },
    crash: "echo 1 > /proc/sys/vm/panic_on_oom\nbun /lab/oomfill.js",
    timeoutSeconds: 900, // 90–300 s alone; the fill and the capture's 850 MB copy slow down most under load
  });
}
