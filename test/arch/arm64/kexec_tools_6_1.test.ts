// Why kexec-tools cannot capture Debian's 6.1 arm64 kernel (matrix): its /proc/kallsyms has no _text (Debian's 6.1
// arm64 config leaves CONFIG_KALLSYMS_ALL unset, so scripts/kallsyms keeps only [_stext, _etext] and init text,
// and arm64's _text, the Image header, sits 64 KiB below _stext). kexec-tools' get_page_offset() needs _text, so
// page_offset stays 0 and the elfcorehdr's kernel-text PT_LOAD is garbage (an offset past RAM, a size that wraps):
// the capture kernel's /proc/vmcore size reads as nonsense and reading it ends in a synchronous external abort.
// 6.12 and 7.2 set KALLSYMS_ALL and capture. Shown with kexec -d in a 6.1 arm64 guest, nothing crashed.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { fetchKernel } from "../../../lib/lab/kernels.ts";
import { runGuest } from "../../../lib/lab/qemu.ts";
import { MATRIX } from "../../_matrix.ts";

const LAB = 1_800_000;

describe.skipIf(!MATRIX)("kexec-tools 2.0.32 on Debian's 6.1 arm64 kernel (matrix)", () => {
  test("/proc/kallsyms lacks _text, so kexec -p builds its elfcorehdr with page_offset 0 and a kernel-text PT_LOAD past RAM", async () => {
    const kernel = await fetchKernel("6.1", "arm64");
    expect(readFileSync(kernel.config!, "utf8")).toContain("# CONFIG_KALLSYMS_ALL is not set");
    const job = `
echo "LAB-TEXT $(grep -c -E ' _text$' /proc/kallsyms) LAB-STEXT $(grep -c -E ' _stext$' /proc/kallsyms)"
/opt/peer/kexec -d -p /boot/vmlinuz-$(uname -r) --initrd=/lab/capture-dd.cpio --append="console=ttyAMA0 nr_cpus=1" 2>&1 | grep -E "page_offset|Kernel text Elf header"
`;
    const r = await runGuest({ kernel, job, cmdline: "crashkernel=256M", memoryMiB: 1024, timeoutSeconds: 900 });
    try {
      expect(r.console).toContain("LAB-TEXT 0 LAB-STEXT 1");
      expect(r.console).toContain("Can't get the symbol of _text to calculate page_offset.");
      expect(r.console).toMatch(/load_crashdump_segments: page_offset:\s+0+\n/);
      const text = /Kernel text Elf header: p_type = 1, p_offset = (0x[0-9a-f]+) .* p_memsz = (0x[0-9a-f]+)/.exec(r.console);
      expect(text).not.toBeNull();
      expect(BigInt(text![1]!)).toBeGreaterThan(0x80000000n); // the guest's RAM ends at 2 GiB physical
      expect(BigInt(text![2]!)).toBeGreaterThan(1n << 63n); // a size that wraps /proc/vmcore's
    } finally {
      r.cleanup();
    }
  }, LAB);
});
