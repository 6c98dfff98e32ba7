// The x86 boot protocol setup header of a bzImage (Documentation/arch/x86/boot.rst, protocol 2.12+): release string,
// memory the kernel needs once loaded (init_size), the longest command line and 64-bit entry. Read before kexec.
import { closeSync, openSync, readSync, statSync } from "node:fs";

/** What the setup header says about a kernel image. */
export interface BzImage {
  /** The image's path. */
  path: string;
  /** File size in bytes. */
  fileBytes: number;
  /** Boot protocol version, e.g. 0x20f. */
  protocol: number;
  /** uname -r of the kernel, from the kernel_version string (first word). */
  release: string;
  /** The whole kernel_version string ("6.1.0-56-cloud-amd64 (debian-kernel@…) #1 SMP …"). */
  version: string;
  /** Bytes of memory the kernel needs from its load address until it runs (init_size). */
  initSize: number;
  /** Longest command line the kernel accepts, without the NUL (cmdline_size). */
  cmdlineMax: number;
  /** XLF_KERNEL_64: has the 64-bit entry kexec_file_load needs. */
  kernel64: boolean;
  /** relocatable_kernel: may be placed anywhere (needed for the crash region). */
  relocatable: boolean;
}

const HEADER_END = 0x268; // the setup header (from 0x1f1) through init_size and handover_offset

/**
 * Reads a bzImage's setup header, or returns null when the file is not a bzImage (no "HdrS" at 0x202).
 * @example readBzImage("/boot/vmlinuz-6.1.0-56-cloud-amd64")?.release // "6.1.0-56-cloud-amd64"
 */
export function readBzImage(path: string): BzImage | null {
  const fd = openSync(path, "r");
  try {
    const fileBytes = statSync(path).size;
    const head = new Uint8Array(0x8000);
    const n = readSync(fd, head, 0, head.length, 0);
    if (n < HEADER_END) return null;
    const v = new DataView(head.buffer, 0, n);
    const LE = true; // the setup header is little-endian
    if (v.getUint32(0x202, LE) !== 0x53726448) return null; // header (4): "HdrS"
    const protocol = v.getUint16(0x206, LE); // version (2)
    if (protocol < 0x20c) return null; // 2.12 (3.8) added xloadflags
    const kvOff = v.getUint16(0x20e, LE) + 0x200; // kernel_version (2): pointer from 0x200
    let version = "";
    if (v.getUint16(0x20e, LE) && kvOff < n) {
      const end = head.indexOf(0, kvOff);
      version = new TextDecoder().decode(head.subarray(kvOff, end < 0 ? Math.min(n, kvOff + 256) : end));
    }
    return {
      path,
      fileBytes,
      protocol,
      release: version.split(" ")[0] ?? "",
      version,
      initSize: v.getUint32(0x260, LE), // init_size (4)
      cmdlineMax: v.getUint32(0x238, LE), // cmdline_size (4)
      kernel64: (v.getUint16(0x236, LE) & 0x1) !== 0, // xloadflags (2): XLF_KERNEL_64
      relocatable: v.getUint8(0x234) !== 0, // relocatable_kernel (1)
    };
  } finally {
    closeSync(fd);
  }
}
