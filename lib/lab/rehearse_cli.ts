// `kdump rehearse`: picks the kernel (a Debian line or the user's own), runs the rehearsal or the bisection,
// shows progress on stderr and prints the report (text or --json). Exits 1 when the rehearsal failed.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { UsageError } from "../errors.ts";
import { fetchKernel, KERNEL_LINES, type LabKernel } from "./kernels.ts";
import { labDir } from "./labdir.ts";
import { findMinimum, formatRehearsal, rehearse } from "./rehearse.ts";

/** Options of the rehearse verb. */
export interface RehearseArgs {
  kernel: string;
  modules?: string;
  crashkernel: string;
  cpus: number;
  memory: number;
  findMin: boolean;
  verbose: boolean;
  json: boolean;
}

/** The kernel to rehearse with: a Debian line fetched and cached, or a vmlinuz + modules folder. */
export async function rehearsalKernel(kernel: string, modules?: string): Promise<LabKernel> {
  if (KERNEL_LINES[kernel]) return fetchKernel(kernel);
  if (!existsSync(kernel)) throw new UsageError(`--kernel ${kernel} is neither a kernel line (${Object.keys(KERNEL_LINES).join(", ")}) nor a file`);
  if (!modules || !existsSync(modules)) throw new UsageError("--kernel with a vmlinuz path needs --modules /lib/modules/RELEASE", { hint: "the capture initramfs takes virtio_blk from there" });
  const release = basename(modules);
  const config = join(modules, "..", "..", "..", "boot", `config-${release}`);
  return { line: "custom", release, vmlinuz: kernel, modulesDir: modules, config: existsSync(config) ? config : null };
}

/** Runs the verb; returns the exit status. */
export async function rehearseMain(a: RehearseArgs): Promise<number> {
  const kernel = await rehearsalKernel(a.kernel, a.modules);
  const progress = (p: string) => process.stderr.write(`kdump rehearse: ${p}…\n`);
  const opts = { kernel, crashkernel: a.crashkernel, cpus: a.cpus, memoryMiB: a.memory, onPhase: progress, onLine: a.verbose ? (l: string) => process.stderr.write(`  | ${l}\n`) : undefined };
  if (a.findMin) {
    const r = await findMinimum(opts);
    // minimumMiB is the collector's path (see findMinimum); `kdump estimate` applies it only to this kernel and RAM.
    const result = {
      kernel: kernel.release,
      memoryMiB: a.memory,
      path: "collector",
      minimumMiB: r.minimumMiB,
      ddMinimumMiB: r.ddMinimumMiB,
      measured: new Date().toISOString(),
      trials: r.trials.map((t) => ({ crashkernel: t.crashkernel, passed: t.passed, savedBy: t.savedBy, reason: t.reason, seconds: t.seconds })),
    };
    mkdirSync(labDir(), { recursive: true });
    writeFileSync(join(labDir(), `rehearse-min-${kernel.release}.json`), JSON.stringify(result, null, 2));
    if (a.json) console.log(JSON.stringify(result, null, 2));
    else {
      for (const t of result.trials) console.log(`crashkernel=${t.crashkernel.padEnd(6)} ${t.passed ? `captured by ${t.savedBy ?? "?"}` : `failed: ${t.reason}`} (${t.seconds} s)`);
      console.log(r.minimumMiB === null ? `no capture by the collector even at crashkernel=${a.crashkernel}` : `smallest crashkernel= the collector captured with on ${kernel.release}: ${r.minimumMiB}M`);
      if (r.ddMinimumMiB !== null) console.log(`the busybox dd fallback alone captured with ${r.ddMinimumMiB}M (an unfiltered copy: a pass for the dd path only)`);
    }
    return r.minimumMiB === null ? 1 : 0;
  }
  const r = await rehearse(opts);
  console.log(a.json ? JSON.stringify(r, null, 2) : formatRehearsal(r));
  return r.passed ? 0 : 1;
}
