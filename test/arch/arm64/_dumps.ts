// The arm64 lab dumps: Debian's arm64 cloud kernels crashed in qemu-system-aarch64 -machine virt -cpu max and
// captured by kexec-tools 2.0.32's kexec_load (Debian's arm64 kernels have no KEXEC_FILE) and a busybox dd.
import { labDump, type LabDump } from "../../lab/dumps.ts";

/**
 * A sysrq-c crash of the arm64 kernel of `line` (2 CPUs, 1 GiB, crashkernel=256M), cached under .lab/dumps/.
 * Under TCG on a loaded 2-CPU host this guest took 434 s (7.2) and 333 s (6.12), the capture's dd of the 845 MB
 * /proc/vmcore at ~4 MB/s being the slowest step.
 */
export const arm64SysrqDump = (line = "newest"): Promise<LabDump> => labDump({ line, arch: "arm64", scenario: "sysrq" });
