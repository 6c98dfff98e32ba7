// Builds the lab fixtures the suite reads before `bun test` starts: the real dumps (kexec-tools + busybox dd in
// QEMU guests, two guests at a time) and the peers' downloads (Debian's -dbg vmlinux, kexec-tools). On a warm
// cache it only checks that they exist. With them built up front, parallel test files never wait on each other's
// fixture builds inside a test's time limit. Run by `npm test`; `bun test/prepare.ts` alone warms the cache.
import { LINES, NEW_LINES, fourLevelDump, kmsgDump, sysrqDump } from "./dump/_peers.ts";
import { anonDump, thpDump } from "./lab/thp_dump.ts";
import { oopsDump } from "./analyze/_oops.ts";
import { debugKernel, strippedVmlinux } from "./kernel/_images.ts";
import { kexecTools } from "../lib/lab/peers.ts";
import { debianBase } from "../lib/lab/debian_guest.ts";
import { buildLayout, LVM_ROOT_LAYOUT } from "../lib/lab/storage_guest.ts";
import { fetchKernel } from "../lib/lab/kernels.ts";
import { errorLine } from "../lib/errors.ts";
import { arm64SysrqDump } from "./arch/arm64/_dumps.ts";

/** One fixture: a name for the log and how to make it. */
type Job = [string, () => Promise<unknown>];

/** Downloads and unpacking: network and disk, one at a time (apt-get runs), beside the guests. */
const downloads: Job[] = [
  ["kexec-tools", () => kexecTools()],
  ["Debian systemd guest root (debootstrap)", () => debianBase()],
  ...LINES.flatMap((l): Job[] => [
    [`${l} -dbg vmlinux`, () => debugKernel(l)],
    [`${l} vmlinux`, () => strippedVmlinux(l)],
  ]),
];

/** Dumps: CPU-bound QEMU guests (TCG), two at a time on the 2-CPU machines we run on; the slowest first. */
const dumps: Job[] = [
  ...LINES.flatMap((l): Job[] => [
    [`${l} thp dump`, () => thpDump(l)],
    [`${l} anon dump`, () => anonDump(l)],
    [`${l} oops-timer dump`, () => oopsDump(l, "timer")],
    [`${l} oops-init dump`, () => oopsDump(l, "init")],
  ]),
  ...LINES.flatMap((l): Job[] => [
    [`${l} sysrq dump`, () => sysrqDump(l)],
    [`${l} kmsg dump`, () => kmsgDump(l)],
  ]),
  ["6.1 sysrq-4level dump", () => fourLevelDump("6.1")],
  ...NEW_LINES.map((l): Job => [`${l} sysrq dump`, () => sysrqDump(l)]),
  ["arm64 newest sysrq dump", () => arm64SysrqDump()],
  ["6.12 LVM root layout (test/lab/storage.test.ts)", async () => buildLayout(await fetchKernel("6.12"), LVM_ROOT_LAYOUT)],
];

/** Runs `jobs` `width` at a time; resolves with the failures. */
async function pool(list: Job[], width: number): Promise<string[]> {
  const failed: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < list.length) {
      const [name, make] = list[next++]!;
      const t0 = performance.now();
      try {
        await make();
        const s = (performance.now() - t0) / 1000;
        if (s > 1) console.log(`prepare: ${name} built in ${s.toFixed(0)} s`);
      } catch (e) {
        failed.push(`${name}: ${errorLine(e)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
  return failed;
}

const t0 = performance.now();
const failed = (await Promise.all([pool(downloads, 1), pool(dumps, 2)])).flat();
for (const f of failed) console.error(`prepare: ${f}`);
const all = downloads.length + dumps.length;
console.log(`prepare: ${all - failed.length}/${all} lab fixtures ready in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
// A fixture that cannot be built fails the tests that read it, each with its own message; go on to them.
