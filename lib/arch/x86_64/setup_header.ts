// The whole x86 boot protocol setup header of a bzImage (Documentation/arch/x86/boot.rst, protocol 2.12+, Linux 3.8+),
// with where the protected-mode kernel starts: what a kexec_load loader needs to place the kernel and fill boot_params.
import { UsageError } from "../../errors.ts";

const LE = true; // the setup header is little-endian

/** The setup header fields a kexec loader uses (offsets are file offsets, as in boot.rst). */
export interface SetupHeader {
  /** Boot protocol version, e.g. 0x20f for 2.15. */
  version: number;
  /** Number of 512-byte setup sectors after the boot sector (0 means 4). */
  setupSects: number;
  /** File offset of the protected-mode kernel: (setupSects + 1) × 512. */
  kernelOffset: number;
  /** Offset of the compressed payload inside the protected-mode kernel (payload_offset, 2.08+). */
  payloadOffset: number;
  /** Length of the compressed payload (payload_length). */
  payloadLength: number;
  /** Physical address the kernel prefers to run at (pref_address, e.g. 0x1000000). */
  prefAddress: bigint;
  /** Bytes of memory the kernel needs from its load address until it has set itself up (init_size). */
  initSize: number;
  /** relocatable_kernel: may be loaded at any kernelAlignment-aligned address. */
  relocatable: boolean;
  /** Alignment a relocatable kernel must be loaded at (kernel_alignment, e.g. 0x200000). */
  kernelAlignment: number;
  /** xloadflags bits (XLF_KERNEL_64 0x1, XLF_CAN_BE_LOADED_ABOVE_4G 0x2, XLF_EFI_HANDOVER_* …). */
  xloadflags: number;
  /** XLF_KERNEL_64: the image has the 64-bit entry at the load address + 0x200. */
  kernel64: boolean;
  /** XLF_CAN_BE_LOADED_ABOVE_4G: kernel, initrd and command line may sit above 4 GiB. */
  above4G: boolean;
  /** Longest command line the kernel accepts, without its NUL (cmdline_size). */
  cmdlineSize: number;
  /** Highest address the initrd may end at (initrd_addr_max). */
  initrdAddrMax: number;
  /** Size of the setup header as the kernel defines it: 0x202 + the byte at 0x201, minus 0x1f1. */
  headerBytes: number;
  /** The kernel_version string ("6.1.0-56-cloud-amd64 (debian-kernel@…) #1 SMP …"), "" when absent. */
  kernelVersion: string;
}

/** XLF_KERNEL_64 and XLF_CAN_BE_LOADED_ABOVE_4G (arch/x86/include/uapi/asm/bootparam.h). */
export const XLF = { KERNEL_64: 0x1, CAN_BE_LOADED_ABOVE_4G: 0x2 } as const;

/** Where the setup header starts in the file and in boot_params. */
export const SETUP_HEADER_OFFSET = 0x1f1;

/**
 * The setup header of the bzImage at the start of `image` (its first 0x270 bytes and the kernel_version string are
 * enough), or why there is none: too short, no boot signature, no "HdrS", a protocol before 2.12. It judges the
 * format only; parseSetupHeader() adds what a loader needs.
 * @example const h = readSetupHeader(firstPages); if (typeof h !== "string") h.initSize
 */
export function readSetupHeader(image: Uint8Array): SetupHeader | string {
  if (image.length < 0x270) return `${image.length} bytes is too short for a setup header`;
  const v = new DataView(image.buffer, image.byteOffset, image.byteLength);
  if (v.getUint16(0x1fe, LE) !== 0xaa55) return "no boot signature 0xaa55 at 0x1fe";
  if (v.getUint32(0x202, LE) !== 0x53726448) return 'no "HdrS" magic at 0x202';
  const version = v.getUint16(0x206, LE); // version (2)
  if (version < 0x20c) return `boot protocol ${protocolText(version)} predates 2.12 (Linux 3.8), which added xloadflags`;
  const xloadflags = v.getUint16(0x236, LE); // xloadflags (2)
  const setupSects = v.getUint8(0x1f1) || 4; // setup_sects (1): 0 means 4
  const kv = v.getUint16(0x20e, LE); // kernel_version (2): offset from 0x200
  let kernelVersion = "";
  if (kv && kv + 0x200 < image.length) {
    const start = kv + 0x200;
    const end = image.indexOf(0, start);
    kernelVersion = new TextDecoder().decode(image.subarray(start, end < 0 ? Math.min(image.length, start + 256) : end));
  }
  return {
    version,
    setupSects,
    kernelOffset: (setupSects + 1) * 512,
    payloadOffset: v.getUint32(0x248, LE), // payload_offset (4)
    payloadLength: v.getUint32(0x24c, LE), // payload_length (4)
    prefAddress: v.getBigUint64(0x258, LE), // pref_address (8)
    initSize: v.getUint32(0x260, LE), // init_size (4)
    relocatable: v.getUint8(0x234) !== 0, // relocatable_kernel (1)
    kernelAlignment: v.getUint32(0x230, LE), // kernel_alignment (4)
    xloadflags,
    kernel64: (xloadflags & XLF.KERNEL_64) !== 0,
    above4G: (xloadflags & XLF.CAN_BE_LOADED_ABOVE_4G) !== 0,
    cmdlineSize: v.getUint32(0x238, LE), // cmdline_size (4)
    initrdAddrMax: v.getUint32(0x22c, LE), // initrd_addr_max (4)
    headerBytes: 0x202 + v.getUint8(0x201) - SETUP_HEADER_OFFSET, // the jump at 0x200 skips to the end of the header
    kernelVersion,
  };
}

/**
 * Parses the setup header of a whole bzImage held in memory. Throws UsageError naming what is wrong when the bytes
 * are not a 64-bit bzImage a kexec_load loader can use (no "HdrS", protocol before 2.12, no 64-bit entry).
 * @example parseSetupHeader(readFileSync("/boot/vmlinuz-6.1.0-56-cloud-amd64")).initSize // 0x3378000
 */
export function parseSetupHeader(image: Uint8Array, name = "the image"): SetupHeader {
  const notKernel = (why: string) =>
    new UsageError(`${name} is not an x86_64 kernel image: ${why}`, { hint: "give a bzImage such as /boot/vmlinuz-$(uname -r), not a vmlinux ELF, an initramfs or a compressed file" });
  const h = readSetupHeader(image);
  if (typeof h === "string") throw notKernel(h);
  if (!h.kernel64) throw notKernel("xloadflags lacks XLF_KERNEL_64 (a 32-bit kernel)");
  if (h.kernelOffset >= image.length) throw notKernel(`setup_sects ${h.setupSects} points past the end of the file`);
  return h;
}

/** "2.15" for 0x20f. */
export function protocolText(version: number): string {
  return `${version >> 8}.${(version & 0xff).toString().padStart(2, "0")}`;
}
