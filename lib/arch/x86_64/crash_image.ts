// Lays out a capture kernel for kexec_load on x86_64 (what kexec-tools' `kexec -p` does in userspace, and the
// kernel's kexec_file_load in kexec-bzimage64.c): the protected-mode kernel, initrd, elfcorehdr, boot_params with
// the command line, and our purgatory, all inside the crash reservation. Pure: the machine is read by the caller.
import { UsageError } from "../../errors.ts";
import { buildBootParams, captureE820 } from "./bootparams.ts";
import type { CrashMachine } from "../../load/crash_machine.ts";
import { buildElfcorehdr, corePhdrs } from "../../load/elfcorehdr.ts";
import { alignUp, PAGE, pages, segmentPlacer } from "../../load/segment_placer.ts";
import { patchPurgatory, purgatoryImage } from "./purgatory.ts";
import { parseSetupHeader, type SetupHeader } from "./setup_header.ts";

/** One kexec_load segment: `data` copied to physical `mem`, the rest of `memsz` zeroed. */
export interface CrashSegment {
  /** What the segment is, for messages ("kernel", "initrd", "elfcorehdr", "boot_params", "purgatory"). */
  name: string;
  /** The bytes to load. */
  data: Uint8Array;
  /** Physical destination (page aligned). */
  mem: bigint;
  /** Bytes of memory it occupies (page aligned, ≥ data.length). */
  memsz: number;
}

/** A capture image ready for kexec_load. */
export interface CrashImage {
  /** Where the crashed kernel jumps: the purgatory. */
  entry: bigint;
  /** The segments, in address order. */
  segments: CrashSegment[];
  /** The command line the capture kernel gets (with elfcorehdr= in front). */
  cmdline: string;
  /** The kernel's setup header (x86_64 only). */
  header?: SetupHeader;
  /** Physical address of the elfcorehdr. */
  elfcorehdr: bigint;
}

/** What to load. */
export interface CrashImageInput {
  /** The bzImage bytes. */
  kernel: Uint8Array;
  /** The initramfs bytes, or null. */
  initrd: Uint8Array | null;
  /** The capture command line, without elfcorehdr= (added here). */
  cmdline: string;
  /** The machine (readCrashMachine()). */
  machine: CrashMachine;
  /** Name of the kernel file for messages. */
  kernelName?: string;
}


/**
 * Places everything in the crash reservation, bottom up: kernel (at its alignment, init_size bytes), initrd,
 * elfcorehdr, boot_params + command line, purgatory. Throws UsageError when it does not fit or the image is unusable.
 * @example planCrashImage({ kernel, initrd, cmdline: "console=ttyS0 nr_cpus=1", machine: readCrashMachine() }).entry
 */
export function planCrashImage(i: CrashImageInput): CrashImage {
  const header = parseSetupHeader(i.kernel, i.kernelName);
  if (!header.relocatable) throw new UsageError(`${i.kernelName ?? "the kernel"} is not relocatable`, { hint: "a capture kernel must be built with CONFIG_RELOCATABLE" });
  const placer = segmentPlacer(i.machine.crash);
  const { segments } = placer;
  const place = placer.place;
  // The decompressor runs in place and needs init_size bytes from the load address; below pref_address it would
  // move itself to pref_address, outside the reservation.
  if (placer.next < header.prefAddress && header.prefAddress <= i.machine.crash.end) placer.next = header.prefAddress;
  const kernelData = i.kernel.subarray(header.kernelOffset);
  const kernelAddr = place("kernel", kernelData, pages(Math.max(header.initSize, kernelData.length)), BigInt(header.kernelAlignment));
  const initrdAddr = i.initrd ? place("initrd", i.initrd, pages(i.initrd.length)) : null;
  const hdr = buildElfcorehdr(corePhdrs(i.machine));
  const elfcorehdr = place("elfcorehdr", hdr, pages(hdr.length));
  const cmdline = `elfcorehdr=0x${elfcorehdr.toString(16)} ${i.cmdline}`.trim();
  if (cmdline.length > header.cmdlineSize)
    throw new UsageError(`the capture command line is ${cmdline.length} bytes; the kernel accepts ${header.cmdlineSize}`, { hint: "shorten it" });
  const paramsSize = 4096 + cmdline.length + 1;
  const paramsAddr = alignUp(placer.next, PAGE);
  const bootParams = new Uint8Array(paramsSize);
  place("boot_params", bootParams, pages(paramsSize));
  bootParams.set(
    buildBootParams({
      image: i.kernel,
      header,
      kernelAddr,
      initrd: initrdAddr === null ? null : { addr: initrdAddr, size: i.initrd!.length },
      cmdlineAddr: paramsAddr + 4096n,
      e820: captureE820(i.machine, [{ start: elfcorehdr, end: elfcorehdr + BigInt(pages(hdr.length)) - 1n }]),
      running: i.machine.bootParams,
    }),
  );
  bootParams.set(new TextEncoder().encode(cmdline), 4096); // the NUL after it is already there
  const verified = segments.map((s) => ({ addr: s.mem, data: s.data }));
  const purgatory = patchPurgatory(purgatoryImage(), {
    entry: kernelAddr + 0x200n,
    bootParams: paramsAddr,
    serial: /(^|\s)console=ttyS0/.test(i.cmdline),
    regions: verified,
  });
  const entry = place("purgatory", purgatory, pages(purgatory.length));
  return { entry, segments, cmdline, header, elfcorehdr };
}

/**
 * One line per segment: name, physical range, data and memory sizes (for --dry-run and debugging).
 * @example describeCrashImage(img) // ["kernel      0x0000000030000000-0x00000000333b7fff  7.9 MiB of 51.5 MiB", …]
 */
export function describeCrashImage(img: CrashImage): string[] {
  const hex = (x: bigint) => `0x${x.toString(16).padStart(16, "0")}`;
  const mib = (n: number) => (n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`);
  return [
    ...img.segments.map((s) => `${s.name.padEnd(12)}${hex(s.mem)}-${hex(s.mem + BigInt(s.memsz) - 1n)}  ${mib(s.data.length)} of ${mib(s.memsz)}`),
    `entry       ${hex(img.entry)} (purgatory)`,
    `cmdline     ${img.cmdline}`,
  ];
}
