// Lays out an arm64 capture kernel for kexec_load (what kexec-tools' arm64 `kexec -p` does, Linux 4.x+ arm64 crash
// kernels): the Image at a 2 MiB boundary plus text_offset, the initrd, the running DTB with a capture /chosen
// (linux,elfcorehdr, linux,usable-memory-range, bootargs, initrd), the ELF core header and our purgatory (which
// checks the other segments' SHA-256), all inside the crash reservation. Pure: the machine (with /sys/firmware/fdt)
// is read by the caller.
import { UsageError } from "../../errors.ts";
import type { CrashMachine } from "../../load/crash_machine.ts";
import { buildElfcorehdr, corePhdrs } from "../../load/elfcorehdr.ts";
import type { CrashImage, CrashImageInput } from "../x86_64/crash_image.ts";
import { buildFdt, parseFdt, withCaptureChosen } from "./fdt.ts";
import { arm64Image, parseArm64Image } from "./image.ts";
import { arm64Purgatory, arm64PurgatoryImage, stdoutPl011 } from "./purgatory.ts";
import { alignUp, pages, segmentPlacer } from "../../load/segment_placer.ts";

const MiB2 = 2n << 20n;
const EM_AARCH64 = 183;
/** The DTB's room: the capture /chosen grows it by a few hundred bytes; booting.rst caps a DTB at 2 MiB. */
const DTB_SLACK = 4096;

/**
 * Places the Image (2 MiB aligned + text_offset, image_size bytes), initrd, DTB, elfcorehdr and purgatory bottom up
 * in the reservation. The capture kernel finds the elfcorehdr through the DTB, not the command line. Throws
 * UsageError when it does not fit, the file is not an arm64 Image, or the machine has no DTB.
 * @example planArm64CrashImage({ kernel, initrd, cmdline: "console=ttyAMA0 nr_cpus=1", machine: readCrashMachine() }).entry
 */
export function planArm64CrashImage(i: CrashImageInput & { machine: CrashMachine }): CrashImage {
  let image: Uint8Array;
  try {
    image = arm64Image(i.kernel);
  } catch (e) {
    throw new UsageError(`${i.kernelName ?? "the kernel"} is not an arm64 kernel: ${(e as Error).message}`, { hint: "give an arm64 Image (vmlinuz) with --kernel" });
  }
  const header = parseArm64Image(image)!;
  if (header.bigEndian) throw new UsageError(`${i.kernelName ?? "the kernel"} is a big-endian arm64 kernel`, { hint: "kdump loads little-endian kernels only" });
  if (!i.machine.dtb) throw new UsageError("this machine has no /sys/firmware/fdt to give the capture kernel", { hint: "arm64 ACPI-only boots need kexec_file_load (--syscall file) on a kernel with CONFIG_KEXEC_FILE" });
  const placer = segmentPlacer(i.machine.crash);
  const { segments } = placer;
  const place = placer.place;
  // booting.rst: the Image sits text_offset above a 2 MiB aligned base and needs image_size bytes from there
  placer.next = alignUp(placer.next, MiB2) + header.textOffset;
  const kernelAddr = place("kernel", image, pages(Math.max(Number(header.imageSize), image.length)));
  const initrdAddr = i.initrd ? place("initrd", i.initrd, pages(i.initrd.length)) : null;
  // the elfcorehdr goes before the DTB, whose /chosen names it
  const hdr = buildElfcorehdr(corePhdrs(i.machine), EM_AARCH64);
  const elfcorehdr = place("elfcorehdr", hdr, pages(hdr.length));
  const running = parseFdt(i.machine.dtb);
  const uart = stdoutPl011(running);
  const dtb = buildFdt(
    withCaptureChosen(running, {
      elfcorehdr: [elfcorehdr, BigInt(pages(hdr.length))],
      usableMemory: [i.machine.crash.start, i.machine.crash.end - i.machine.crash.start + 1n],
      bootargs: i.cmdline,
      ...(initrdAddr === null ? {} : { initrd: [initrdAddr, initrdAddr + BigInt(i.initrd!.length)] as [bigint, bigint] }),
    }),
  );
  const dtbAddr = place("dtb", dtb, pages(dtb.length + DTB_SLACK));
  // the purgatory checks every segment placed so far (all but itself) against their SHA-256 before entering the Image
  const regions = segments.map((s) => ({ addr: s.mem, data: s.data }));
  const purgatory = arm64Purgatory({ kernel: kernelAddr, dtb: dtbAddr, uart, regions }, arm64PurgatoryImage());
  const entry = place("purgatory", purgatory, pages(purgatory.length));
  return { entry, segments, cmdline: i.cmdline, elfcorehdr };
}
