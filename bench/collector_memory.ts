// How little memory the Bun collector needs in the capture kernel: for each crashkernel= size, a lab guest loads our
// capture kernel with the busybox fallback turned off (kdump.collector_min_kb=0), crashes, and reports the capture
// kernel's MemAvailable, whether the collector saved a filtered dump and how long it took, or whether it was
// OOM-killed (the init then copies with dd). COLLECTOR_MIN_KIB in lib/initramfs/init.ts comes from these numbers.
// Run: bun bench/collector_memory.ts [6.1|6.12] [SIZE…]   (default: 6.1 112M 96M)
import { fetchKernel } from "../lib/lab/kernels.ts";
import { runGuest } from "../lib/lab/qemu.ts";

const [line = "6.1", ...sizes] = process.argv.slice(2);
const kernel = await fetchKernel(line);
const job = `
if [ "$LAB_BOOT" = 1 ]; then
  kdump load --append kdump.collector_min_kb=0 > /dev/null || { echo "BENCH-LOAD-FAILED"; exit 1; }
  echo 1 > /proc/sys/kernel/sysrq; sync; echo c > /proc/sysrq-trigger; sleep 30
fi
`;
for (const size of sizes.length ? sizes : ["112M", "96M"]) {
  const r = await runGuest({ kernel, job, cmdline: `crashkernel=${size}`, boots: 2, timeoutSeconds: 900 });
  try {
    const avail = /(\d+) kB available/.exec(r.console)?.[1];
    const saved = /saved \S+ \(kdump[^)]*\): .* in ([\d.]+) s/.exec(r.console);
    const how = saved ? `collector saved a filtered dump in ${saved[1]} s` : /oom-kill/.test(r.console) ? "collector OOM-killed, saved by dd" : /BENCH-LOAD-FAILED/.test(r.console) ? "load failed" : "no dump";
    console.log(`${line} crashkernel=${size}: MemAvailable ${avail ? (Number(avail) / 1024).toFixed(1) + " MiB" : "?"}, ${how} (guest run ${r.seconds.toFixed(0)} s)`);
  } finally {
    r.cleanup();
  }
}
