// Lab tool, not a test: how often Bun's aarch64 build dies running `kdump collect` in an arm64 TCG guest, by QEMU
// CPU and JSC tier. Boots one 1-CPU guest of Debian's newest arm64 kernel with the arm64 sysrq fixture dump
// (test/arch/arm64/_dumps.ts) on a second disk, and runs the collector on it N times per variant (a variant is
// environment for Bun, e.g. "BUN_JSC_useBaselineJIT=0"; "full" is Bun's defaults), printing each exit status and
// a tally. It found why the lab's arm64 CPU is `max,sve=off,sme=off` (lib/arch/arm64/arch.ts).
// Run: bun test/arch/arm64/_jit_repro.ts [--cpu max] [--runs 5] [variant…]
//   e.g. bun test/arch/arm64/_jit_repro.ts --cpu max full "BUN_JSC_useDFGJIT=0" "BUN_JSC_useBaselineJIT=0"
import { spawnSync } from "node:child_process";
import { linkSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fetchKernel } from "../../../lib/lab/kernels.ts";
import { labDir } from "../../../lib/lab/labdir.ts";
import { runGuest } from "../../../lib/lab/qemu.ts";
import { arm64SysrqDump } from "./_dumps.ts";

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const v = args[i + 1] ?? fallback;
  args.splice(i, 2);
  return v;
};
const cpu = option("--cpu", "max");
const runs = Number(option("--runs", "5"));
const variants = args.length ? args : ["full"];
if (!Number.isInteger(runs) || runs < 1) throw new Error("--runs takes a whole number ≥ 1");

const dump = await arm64SysrqDump();
const work = mkdtempSync(join(labDir(), "runs", "jit-repro-"));
try {
  // the dump on its own ext4 disk (mke2fs -d: no loop mount)
  const files = join(work, "files");
  mkdirSync(files);
  linkSync(dump.vmcore, join(files, "vmcore")); // a hard link: mke2fs -d would copy a symlink as a symlink
  const disk = join(work, "dump.ext4");
  const mk = spawnSync("mke2fs", ["-q", "-t", "ext4", "-d", files, disk, "400M"], { encoding: "utf8" });
  if (mk.status !== 0) throw new Error(`mke2fs failed: ${mk.stderr.trim()}`);
  const job = `
mount -o ro /dev/vdb /mnt || { echo "LAB-ERROR no dump disk"; exit 1; }
set -o pipefail
grep -m1 -o 'Features.*' /proc/cpuinfo | sed 's/^/CPUINFO /'
${variants
  .map(
    (v, j) => `for i in $(seq 1 ${runs}); do
  env ${v === "full" ? "" : v} kdump collect --from /mnt/vmcore --out /var/crash/o --host h 2>&1 | tr '\\r' '\\n' | grep -v ETA | grep "saved\\|panic(\\|Maximum\\|kdump:" | cut -c1-120
  echo "RC-V${j}-$i=$?"; rm -rf /var/crash/o
done`,
  )
  .join("\n")}
`;
  const tally = variants.map(() => ({ died: 0, ok: 0, other: 0 }));
  const r = await runGuest({
    kernel: await fetchKernel("newest", "arm64"),
    job,
    cpus: 1,
    memoryMiB: 512,
    timeoutSeconds: 600 + runs * variants.length * 120,
    disks: [{ path: disk, sizeMiB: 400 }],
    extraArgs: ["-cpu", cpu], // QEMU takes the last -cpu
    onLine: (l) => {
      if (l.startsWith("[")) return;
      console.log(l);
      const m = /^RC-V(\d+)-\d+=(\d+)/.exec(l);
      if (m) {
        const t = tally[Number(m[1])]!;
        const rc = Number(m[2]);
        if (rc === 0) t.ok++;
        else if (rc > 128) t.died++;
        else t.other++;
      }
    },
  });
  r.cleanup();
  console.log(`-cpu ${cpu}, ${runs} runs each, guest ${r.seconds.toFixed(0)} s:`);
  for (const [j, v] of variants.entries()) console.log(`  ${v}: ${tally[j]!.died} died on a signal, ${tally[j]!.ok} saved, ${tally[j]!.other} other failures`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
