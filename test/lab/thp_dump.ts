// A lab dump whose memory is mostly anonymous transparent huge pages: a Bun process fills ~560 MiB with
// pseudo-random data under transparent_hugepage=always and keeps it, then the kernel crashes (sysrq c).
import { labDump, type LabDump } from "./dumps.ts";

/** The guest script: fill anonymous memory, wait until it is resident, show what the kernel made of it. */
const FILL = `
bun -e 'const b = new Uint32Array((560 << 20) / 4); let x = 2463534242;
for (let i = 0; i < b.length; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; b[i] = x; }
require("fs").writeFileSync("/tmp/filled", String(b[12345])); setInterval(() => b[0]++, 1000);' &
i=0; while [ ! -e /tmp/filled ] && [ $i -lt 300 ]; do sleep 1; i=$((i+1)); done
grep -E "MemFree|AnonPages|AnonHugePages" /proc/meminfo
`;

/**
 * The THP-heavy dump of kernel line `line` ("6.1" or "6.12"), made once and cached as scenario "thp".
 * @example const d = await thpDump("6.12"); openDump(d.vmcore)
 */
export function thpDump(line: string): Promise<LabDump> {
  return labDump({ line, scenario: "thp", cmdline: "transparent_hugepage=always", prepare: FILL });
}
