// The arm64 lab dumps: Debian's arm64 cloud kernels crashed in qemu-system-aarch64 -machine virt -cpu max,sve=off,sme=off and
// captured by kexec-tools 2.0.32's kexec_load (Debian's arm64 kernels have no KEXEC_FILE) and a busybox dd.
import { labDump, type LabDump } from "../../lab/dumps.ts";

/**
 * A sysrq-c crash of the arm64 kernel of `line` (2 CPUs, 512 MiB, crashkernel=256M), cached under .lab/dumps/.
 * 512 MiB, not the x86_64 fixtures' 1 GiB: under TCG the capture's dd of /proc/vmcore is the slowest step (~4 MB/s
 * on a loaded host); the 7.2 guest took 168 s at 512 MiB and 434 s at 1 GiB.
 */
export const arm64SysrqDump = (line = "newest"): Promise<LabDump> => labDump({ line, arch: "arm64", scenario: "sysrq-512m", memoryMiB: 512 });
