// Lab dumps of the common panics the report explains. Each guest prints /proc/meminfo and /proc/slabinfo just
// before it crashes (kept in the dump folder's console.log for kmem's accuracy checks).
import { join } from "node:path";
import { labDump, type LabDump } from "../lab/dumps.ts";
import { labModule, moduleHash } from "./_oops.ts";

const SPIN = join(import.meta.dir, "..", "lab", "fixtures", "spin_module");

/** Prints the memory state the kmem checks compare against. */
const MEMINFO = "echo MEMINFO-BEGIN; cat /proc/meminfo; echo MEMINFO-END; echo SLABINFO-BEGIN; cat /proc/slabinfo; echo SLABINFO-END";

/**
 * A hung-task panic: with hung_task_panic=1 and a 2 s timeout, `sh` writing into the frozen root filesystem
 * (fsfreeze) waits in D state in the superblock's freeze lock until khungtaskd panics.
 */
export const hungTaskDump = (line: string): Promise<LabDump> =>
  labDump({
    line,
    scenario: "hung-task",
    cmdline: "hung_task_panic=1",
    crash: [
      MEMINFO,
      "echo 2 > /proc/sys/kernel/hung_task_timeout_secs",
      "echo 1 > /proc/sys/kernel/hung_task_check_interval_secs 2>/dev/null",
      "fsfreeze --freeze /",
      "sh -c 'echo stuck > /hung-writer' &",
      "sleep 60",
    ].join("\n"),
  });

/**
 * A soft-lockup panic: with softlockup_panic=1 and watchdog_thresh=2, insmod of a module that spins with preemption
 * off keeps its CPU from scheduling until the watchdog panics (after 2 × 2 s).
 */
export const softLockupDump = async (line: string): Promise<LabDump> =>
  labDump({
    line,
    scenario: `soft-lockup-${moduleHash(SPIN)}`,
    cmdline: "softlockup_panic=1 watchdog_thresh=2",
    files: { "/lab/spin.ko": await labModule(line, SPIN, "spin") },
    crash: [MEMINFO, "insmod /lab/spin.ko", "sleep 60"].join("\n"),
  });

const LEAK = join(import.meta.dir, "..", "lab", "fixtures", "leak_module");

/**
 * An OOM panic from a leaking slab cache: with vm.panic_on_oom=1, the leak module's cache kdump_leak takes 256 MiB
 * while it loads, the guest prints meminfo and slabinfo, then writing to its `more` parameter leaks until the OOM
 * killer panics (its report: Mem-Info, the task table and "Unreclaimable slab info").
 */
export const oomSlabDump = async (line: string): Promise<LabDump> =>
  labDump({
    line,
    scenario: `oom-slab-${moduleHash(LEAK)}`,
    files: { "/lab/leak.ko": await labModule(line, LEAK, "leak") },
    crash: ["echo 1 > /proc/sys/vm/panic_on_oom", "insmod /lab/leak.ko mb=256", MEMINFO, "echo 4096 > /sys/module/leak/parameters/more", "sleep 60"].join("\n"),
  });
