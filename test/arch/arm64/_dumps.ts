// The arm64 lab dumps: Debian's arm64 cloud kernels crashed in qemu-system-aarch64 -machine virt -cpu max and
// captured by kexec-tools 2.0.32's kexec_load (Debian's arm64 kernels have no KEXEC_FILE) and a busybox dd.
import { labDump, type LabDump } from "../../lab/dumps.ts";

/** A sysrq-c crash of the arm64 kernel of `line` (2 CPUs, 1 GiB), cached under .lab/dumps/. */
export const arm64SysrqDump = (line = "newest"): Promise<LabDump> => labDump({ line, arch: "arm64", scenario: "sysrq" });
