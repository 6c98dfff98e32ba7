// A kernel image file as load and status see it before kexec: its release, the memory it needs once loaded
// (init_size), the longest command line and the 64-bit entry, from the setup header (setup_header.ts, protocol 2.12+).
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { readSetupHeader } from "./setup_header.ts";

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

/**
 * Reads a bzImage's setup header from the file's first 32 KiB (the header and its kernel_version string), or
 * returns null when the file is not a bzImage of protocol 2.12 or later.
 * @example readBzImage("/boot/vmlinuz-6.1.0-56-cloud-amd64")?.release // "6.1.0-56-cloud-amd64"
 */
export function readBzImage(path: string): BzImage | null {
  const fd = openSync(path, "r");
  try {
    const fileBytes = statSync(path).size;
    const head = new Uint8Array(0x8000);
    const h = readSetupHeader(head.subarray(0, readSync(fd, head, 0, head.length, 0)));
    if (typeof h === "string") return null;
    return {
      path,
      fileBytes,
      protocol: h.version,
      release: h.kernelVersion.split(" ")[0] ?? "",
      version: h.kernelVersion,
      initSize: h.initSize,
      cmdlineMax: h.cmdlineSize,
      kernel64: h.kernel64,
      relocatable: h.relocatable,
    };
  } finally {
    closeSync(fd);
  }
}
