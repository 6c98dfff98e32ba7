// Runbook: load the capture kernel so that a panic saves a dump. Run as root:
// `kdump recipes/load.ts [--dry-run] [--kernel K] [--target /var/crash] [--append p=v] [--remove p]`
// (also --modules-dir and --cache-dir). It builds our capture initramfs (cached in /var/lib/kdump), checks it fits
// the crashkernel= reservation, and loads it.
import { formatPlan, loadPlan, planLoad, readStatus } from "kdump";

const list = (v: unknown): string[] | undefined => (v === undefined ? undefined : ([] as unknown[]).concat(v).map(String));

// 1. Is memory reserved? Without crashkernel= on the kernel command line there is nowhere to load.
echo(readStatus().verdict);

// 2. Plan: the kernel, our initramfs (built only when its inputs changed), the capture command line, memory.
const plan = planLoad({
  kernel: argv.kernel,
  target: argv.target,
  append: list(argv.append),
  remove: list(argv.remove),
  modulesDir: argv["modules-dir"],
  cacheDir: argv["cache-dir"],
});
echo(formatPlan(plan));
if (argv["dry-run"]) process.exit(0);

// 3. Load it into the reservation (kexec_file_load with KEXEC_FILE_ON_CRASH).
const { seconds } = loadPlan(plan);
echo(`loaded in ${seconds.toFixed(2)} s`);

// 4. The kernel confirms (/sys/kernel/kexec_crash_loaded is 1): a crash now boots the capture kernel.
echo(readStatus().verdict);
