// Real crash dumps for tests: a Debian kernel crashes in a QEMU guest and kexec-tools + a busybox dd capture
// (independent of the code under test) save /proc/vmcore whole. Cached under .lab/dumps/; built from nothing in CI.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { $ } from "bun";
import { LabError } from "../../lib/errors.ts";
import { fetchKernel, type LabKernel } from "../../lib/lab/kernels.ts";
import { labDir } from "../../lib/lab/labdir.ts";
import { consoleFromBootOf, forArch, LAB_CAPTURE_CMDLINE, runGuest } from "../../lib/lab/qemu.ts";
import type { ArchName } from "../../lib/arch/arch.ts";
import { buildOnce } from "../../lib/lab/lock.ts";

/** What crash to make. */
export interface DumpSpec {
  /** Kernel line: "5.10", "6.1", "6.12" or "newest". */
  line: string;
  /** The kernel's architecture (default x86_64; arm64 boots qemu-system-aarch64 -machine virt). */
  arch?: ArchName;
  /** Cache name of the scenario; different options need different names (e.g. "sysrq", "sysrq-4level"). */
  scenario: string;
  /** vCPUs (default 2). */
  cpus?: number;
  /** 5-level paging (default true). */
  la57?: boolean;
  /** Guest memory in MiB (default 1024). */
  memoryMiB?: number;
  /** Extra files in the guest's root filesystem: guest path → host path or contents. */
  files?: Record<string, string | Uint8Array>;
  /** Added to the crashing kernel's command line (e.g. "transparent_hugepage=always"). */
  cmdline?: string;
  /** Guest shell run before the crash (e.g. start some processes). */
  prepare?: string;
  /** Guest shell that crashes the kernel (default: sysrq 'c'). */
  crash?: string;
  /** The guest's time limit once it runs (default 480 s). */
  timeoutSeconds?: number;
}

/** A cached dump. */
export interface LabDump {
  /** The ELF /proc/vmcore copy (0600). */
  vmcore: string;
  /** The serial console of the crashed kernel and the capture kernel. */
  console: string;
  /** The kernel that crashed. */
  kernel: LabKernel;
}

const CAPTURE_CMDLINE = LAB_CAPTURE_CMDLINE;

/**
 * A real dump for `spec`, made once and cached.
 * @example const d = await labDump({ line: "6.1", scenario: "sysrq" }); openDump(d.vmcore)
 */
export async function labDump(spec: DumpSpec): Promise<LabDump> {
  const kernel = await fetchKernel(spec.line, spec.arch);
  const dir = join(labDir(), "dumps", `${kernel.release}-${spec.scenario}`);
  const vmcore = join(dir, "vmcore");
  const consoleLog = join(dir, "console.log");
  // the crashed kernel is the one that loaded the capture kernel: a false start before it is not that kernel's
  const crashedOn = (text: string) => consoleFromBootOf(text, "LAB-LOADED");
  const made = () => (existsSync(vmcore) && existsSync(consoleLog) ? { vmcore, console: crashedOn(readFileSync(consoleLog, "utf8")), kernel } : undefined);
  return buildOnce(dir, made, async () => {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const disk = join(dir, "capture.raw");
    rmSync(disk, { force: true });
    const job = `
set -x
${spec.prepare ?? ""}
k=/boot/vmlinuz-$(uname -r); [ -e $k ] || k=/usr/lib/modules/$(uname -r)/vmlinuz
# arm64 kernels have no KEXEC_FILE: kexec_load there
/opt/peer/kexec ${kernel.arch === "arm64" ? "" : "-s "}-p $k --initrd=/lab/capture-dd.cpio --append="${forArch(CAPTURE_CMDLINE, kernel)}" || exit 97
echo "LAB-LOADED $(cat /sys/kernel/kexec_crash_loaded)"
echo 1 > /proc/sys/kernel/sysrq
sync
${spec.crash ?? "echo c > /proc/sysrq-trigger"}
sleep 20
echo "LAB-ERROR the crash command returned without crashing"
exit 98
`;
    const r = await runGuest({
      kernel,
      job,
      cmdline: `crashkernel=256M ${spec.cmdline ?? ""}`.trim(),
      cpus: spec.cpus ?? 2,
      la57: spec.la57 ?? true,
      memoryMiB: spec.memoryMiB ?? 1024,
      boots: 1,
      // ~35–110 s alone; two guests at a time share the CPUs. arm64 under TCG: kexec -p alone takes ~100 s (SHA-256 of
      // the 38 MB Image emulated), the capture kernel boots in ~2 min
      timeoutSeconds: spec.timeoutSeconds ?? (kernel.arch === "arm64" ? 1200 : 480),
      disks: [{ path: disk, sizeMiB: (spec.memoryMiB ?? 1024) + 64 }],
      rootfs: { files: spec.files },
    });
    try {
      const size = /LAB-VMCORE-SIZE (\d+)/.exec(r.console);
      if (!size || !/LAB-CAPTURED/.test(r.console)) {
        writeFileSync(join(dir, "console.failed.log"), r.console, { mode: 0o600 }); // for the diagnosis
        throw new LabError(`lab dump ${spec.scenario} on ${kernel.release} was not captured`, {
          hint: `exit ${r.exitCode}, timed out ${r.timedOut}; console tail: ${r.console.slice(-800)}`,
        });
      }
      await $`truncate -s ${size[1]} ${disk}`.quiet();
      // A guest's memory is mostly zero pages: punching holes where the blocks are zero keeps the bytes the same and
      // cuts a sysrq dump from 864 MB to 174 MB on disk (a run from nothing: the dumps 13 GB before, 6.5 GB after,
      // the thp and anon ones being full; a CI machine's disk filled up with them beside the guest images)
      await digHoles(disk);
      chmodSync(disk, 0o600);
      renameSync(disk, vmcore);
      writeFileSync(join(dir, "spec.json"), JSON.stringify({ ...spec, files: Object.keys(spec.files ?? {}), release: kernel.release, seconds: r.seconds }, null, 2));
      writeFileSync(consoleLog, r.console, { mode: 0o600 }); // whole: the diagnosis of a false start needs it
      return { vmcore, console: crashedOn(r.console), kernel };
    } finally {
      r.cleanup();
      rmSync(disk, { force: true });
    }
  });
}

/** Punches holes in `path` wherever a block is all zero (util-linux fallocate; the file reads the same). */
async function digHoles(path: string): Promise<void> {
  const r = await $`fallocate --dig-holes ${path}`.quiet().nothrow();
  // a filesystem without hole punching keeps the file whole: only the disk it takes differs
  if (r.exitCode !== 0 && !/not supported/i.test(r.stderr.toString())) {
    throw new LabError(`fallocate --dig-holes ${path} failed`, { hint: r.stderr.toString().trim() });
  }
}
