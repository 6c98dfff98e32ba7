import { describe, expect, test } from "bun:test";
import { merge } from "../../lib/config/settings.ts";
import { readSysconfigKdump } from "../../lib/config/sysconfig_kdump.ts";
import { configError } from "./_errors.ts";

// After the /etc/sysconfig/kdump that kdump-utils installs on x86_64 (written by hand: not in the Debian registry).
const STOCK = `# Kernel Version string for the -kdump kernel, such as 2.6.13-1544.FC5kdump
KDUMP_KERNELVER=""
KDUMP_COMMANDLINE=""
KDUMP_COMMANDLINE_REMOVE="hugepages hugepagesz slub_debug quiet log_buf_len swiotlb cma hugetlb_cma ignition.firstboot"
KDUMP_COMMANDLINE_APPEND="irqpoll nr_cpus=1 reset_devices cgroup_disable=memory mce=off numa=off udev.children-max=2 panic=10 acpi_no_memhotplug transparent_hugepage=never nokaslr hest_disable novmcoredd cma=0 hugetlb_cma=0"
KEXEC_ARGS="-s"
KDUMP_BOOTDIR="/boot"
KDUMP_IMG="vmlinuz"
KDUMP_IMG_EXT=""
FADUMP_COMMANDLINE_APPEND="nr_cpus=16 numa=off cgroup_disable=memory cma=0 kvm_cma_resv_ratio=0 hugetlb_cma=0 transparent_hugepage=never novmcoredd udev.children-max=2"
`;
const FILE = "/etc/sysconfig/kdump";

describe("readSysconfigKdump()", () => {
  test("reads the stock file: the command line edits and kexec_file_load, each with its line", () => {
    const c = merge([readSysconfigKdump(STOCK)]);
    expect(c.settings.cmdline).toBeNull();
    expect(c.settings.kernel).toBeNull();
    expect(c.settings.cmdlineRemove).toEqual(["hugepages", "hugepagesz", "slub_debug", "quiet", "log_buf_len", "swiotlb", "cma", "hugetlb_cma", "ignition.firstboot"]);
    expect(c.settings.cmdlineAppend).toContain("irqpoll");
    expect(c.settings.syscall).toBe("file");
    expect(c.origins).toMatchObject({ cmdlineRemove: { file: FILE, line: 4 }, cmdlineAppend: { line: 5 }, syscall: { line: 6 } });
    expect(c.notes.map((n) => [n.line, n.text.split(":")[0]])).toEqual([[10, "FADUMP_COMMANDLINE_APPEND"]]);
  });

  test("KDUMP_COMMANDLINE replaces the line; KDUMP_KERNELVER picks the kernel with KDUMP_BOOTDIR and KDUMP_IMG; -c is kexec_load", () => {
    const c = merge([readSysconfigKdump('KDUMP_KERNELVER=6.12.1\nKDUMP_BOOTDIR=/boot/efi\nKDUMP_COMMANDLINE="root=/dev/vda console=ttyS0"\nKEXEC_ARGS="-c -d"\n')]);
    expect(c.settings).toMatchObject({ kernel: "/boot/efi/vmlinuz-6.12.1", cmdline: "root=/dev/vda console=ttyS0", syscall: "load" });
    expect(c.origins.kernel).toEqual({ file: FILE, line: 1 });
    expect(c.notes[0]!.text).toContain("KEXEC_ARGS: -d");
  });

  test("refuses a kexec option it cannot honour, at its line", () => {
    const e = configError(() => readSysconfigKdump('\nKEXEC_ARGS="--reuse-cmdline"\n'));
    expect(e.summary()).toStartWith(`${FILE}:2: KEXEC_ARGS: kexec option --reuse-cmdline is not supported: `);
  });
});
