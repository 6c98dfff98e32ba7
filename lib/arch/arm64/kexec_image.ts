// Lays out an arm64 kernel staged for `kdump exec` (a normal kexec, not a capture kernel) for kexec_load, as
// kexec-tools' arm64 `kexec -l` does (Linux 4.x+): the Image at a 2 MiB boundary plus text_offset at the bottom of
// a System RAM range, then the initrd, the running DTB with a new /chosen (bootargs, initrd; no capture properties,
// no reused seeds) and our purgatory, which enters the Image with x0 = the DTB (Documentation/arch/arm64/booting.rst).
// The kernel copies the segments to their places only at reboot(LINUX_REBOOT_CMD_KEXEC), so they may overlap the
// running kernel. Pure: /proc/iomem and /sys/firmware/fdt are read by the caller.
import { UsageError } from "../../errors.ts";
import type { IomemRange } from "../../load/crash_machine.ts";
import { alignUp, pages, segmentPlacer } from "../../load/segment_placer.ts";
import type { CrashSegment } from "../x86_64/crash_image.ts";
import { buildFdt, parseFdt, withKexecChosen } from "./fdt.ts";
import { arm64Image, parseArm64Image } from "./image.ts";
import { arm64Purgatory, stdoutPl011 } from "./purgatory.ts";

const MiB2 = 2n << 20n;
/** Room after the DTB, as for a capture kernel: the booting kernel may grow it in place. */
const DTB_SLACK = 4096;

/** What to stage. */
export interface KexecImageInput {
  /** The kernel file (Image, Image.gz or EFI zboot). */
  kernel: Uint8Array;
  /** The initramfs bytes, or null. */
  initrd: Uint8Array | null;
  /** The staged kernel's command line (its /chosen bootargs). */
  cmdline: string;
  /** /proc/iomem of the running machine (parseIomem). */
  iomem: IomemRange[];
  /** /sys/firmware/fdt of the running machine, or null when it booted without one. */
  dtb: Uint8Array | null;
  /** Name of the kernel file for messages. */
  kernelName?: string;
}

/** A staged kernel ready for kexec_load without KEXEC_ON_CRASH. */
export interface KexecImage {
  /** Where reboot(LINUX_REBOOT_CMD_KEXEC) jumps: the purgatory. */
  entry: bigint;
  /** The segments, in address order. */
  segments: CrashSegment[];
  /** The staged kernel's command line. */
  cmdline: string;
}

/**
 * Places the Image, initrd, DTB and purgatory bottom up in the first top-level System RAM range they fit.
 * Throws UsageError when the file is not a little-endian arm64 kernel, the machine has no DTB, or no range holds them.
 * @example planArm64KexecImage({ kernel, initrd, cmdline: "console=ttyAMA0", iomem: parseIomem(text), dtb }).entry
 */
export function planArm64KexecImage(i: KexecImageInput): KexecImage {
  const name = i.kernelName ?? "the kernel";
  let image: Uint8Array;
  try {
    image = arm64Image(i.kernel);
  } catch (e) {
    throw new UsageError(`${name} is not an arm64 kernel: ${(e as Error).message}`, { hint: "give an arm64 Image (vmlinuz) with --kernel" });
  }
  const header = parseArm64Image(image)!;
  if (header.bigEndian) throw new UsageError(`${name} is a big-endian arm64 kernel`, { hint: "kdump loads little-endian kernels only" });
  if (!i.dtb) throw new UsageError("this machine has no /sys/firmware/fdt to give the staged kernel", { hint: "arm64 ACPI-only boots need kexec_file_load (--syscall file) on a kernel with CONFIG_KEXEC_FILE" });
  const imageBytes = pages(Math.max(Number(header.imageSize), image.length));
  const ram = i.iomem.filter((r) => r.depth === 0 && r.name === "System RAM");
  for (const range of ram) {
    const placer = segmentPlacer(range);
    placer.next = alignUp(range.start, MiB2) + header.textOffset;
    try {
      const kernelAddr = placer.place("kernel", image, imageBytes);
      const initrdAddr = i.initrd ? placer.place("initrd", i.initrd, pages(i.initrd.length)) : null;
      const running = parseFdt(i.dtb);
      const dtb = buildFdt(withKexecChosen(running, { bootargs: i.cmdline, ...(initrdAddr === null ? {} : { initrd: [initrdAddr, initrdAddr + BigInt(i.initrd!.length)] as [bigint, bigint] }) }));
      const dtbAddr = placer.place("dtb", dtb, pages(dtb.length + DTB_SLACK));
      // as for a capture image, the purgatory checks every segment placed so far against their SHA-256
      const regions = placer.segments.map((s) => ({ addr: s.mem, data: s.data }));
      const purgatory = arm64Purgatory({ kernel: kernelAddr, dtb: dtbAddr, uart: stdoutPl011(running), regions });
      const entry = placer.place("purgatory", purgatory, pages(purgatory.length));
      return { entry, segments: placer.segments, cmdline: i.cmdline };
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
    }
  }
  const need = imageBytes + (i.initrd ? pages(i.initrd.length) : 0);
  throw new UsageError(`no System RAM range in /proc/iomem holds the ${Math.ceil(need / 1048576)} MiB kernel and initrd to stage`, { hint: "use a smaller initramfs (--initrd)" });
}
