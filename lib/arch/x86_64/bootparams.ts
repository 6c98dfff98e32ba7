// boot_params (the "zero page", arch/x86/include/uapi/asm/bootparam.h) for a capture kernel started through the
// 64-bit boot protocol: the bzImage's setup header, where the initrd and command line are, and an e820 map of the
// capture kernel's world, built as the kernel's own crash loader does (arch/x86/kernel/crash.c, Linux 5.13+).
import { UsageError } from "../../errors.ts";
import type { CrashMachine } from "../../load/crash_machine.ts";
import { type RamRange, subtract } from "../../load/elfcorehdr.ts";
import { SETUP_HEADER_OFFSET, type SetupHeader } from "./setup_header.ts";

/** e820 types (arch/x86/include/asm/e820/types.h). */
export const E820 = { RAM: 1, RESERVED: 2, ACPI: 3, NVS: 4 } as const;

/** One e820 entry (struct boot_e820_entry). */
export interface E820Entry {
  /** First byte. */
  addr: bigint;
  /** Size in bytes. */
  size: bigint;
  /** E820.RAM, RESERVED, ACPI or NVS. */
  type: number;
}

/** What goes into boot_params besides the setup header. */
export interface BootParamsInput {
  /** The bzImage (its setup header is copied). */
  image: Uint8Array;
  /** Its parsed header. */
  header: SetupHeader;
  /** Physical address the protected-mode kernel is loaded at (code32_start). */
  kernelAddr: bigint;
  /** Physical address and size of the initrd, or null. */
  initrd: { addr: bigint; size: number } | null;
  /** Physical address of the NUL-terminated command line. */
  cmdlineAddr: bigint;
  /** The capture kernel's e820 map (see captureE820). */
  e820: E820Entry[];
  /** The running kernel's boot_params, for screen_info, acpi_rsdp_addr, EDD and hardware_subarch; null if unknown. */
  running: Uint8Array | null;
}

/** Entries the zero page holds (E820_MAX_ENTRIES_ZEROPAGE). */
const E820_MAX = 128;
const MiB1 = 0x100000n;

/**
 * The capture kernel's memory map: System RAM below 1 MiB, ACPI tables and NVS, firmware-reserved ranges, and the
 * crash reservation as RAM except `keep` (the elfcorehdr, which the capture kernel must not overwrite).
 * @example captureE820(m, [{ start: hdr, end: hdr + 0x3fffn }])
 */
export function captureE820(m: CrashMachine, keep: RamRange[]): E820Entry[] {
  const top = m.iomem.filter((r) => r.depth === 0);
  const out: E820Entry[] = [];
  const add = (start: bigint, end: bigint, type: number) => out.push({ addr: start, size: end - start + 1n, type });
  for (const r of top) if (r.name === "System RAM" && r.start < MiB1) add(r.start, r.end < MiB1 ? r.end : MiB1 - 1n, E820.RAM);
  for (const r of top) if (r.name === "ACPI Tables") add(r.start, r.end, E820.ACPI);
  for (const r of top) if (r.name === "ACPI Non-volatile Storage") add(r.start, r.end, E820.NVS);
  for (const r of top) if (r.name === "Reserved") add(r.start, r.end, E820.RESERVED);
  let crash: RamRange[] = [m.crash];
  for (const k of keep) crash = crash.flatMap((r) => subtract(r, k));
  for (const r of crash) if (r.end - r.start + 1n >= 4096n) add(r.start, r.end, E820.RAM);
  out.sort((a, b) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0));
  if (out.length > E820_MAX)
    throw new UsageError(`the capture kernel's memory map has ${out.length} entries, boot_params holds ${E820_MAX}`, { hint: "use kexec_file_load (--syscall file)" });
  return out;
}

/**
 * Builds the 4096-byte boot_params.
 * @example buildBootParams({ image, header, kernelAddr, initrd, cmdlineAddr, e820, running: m.bootParams })
 */
export function buildBootParams(p: BootParamsInput): Uint8Array {
  const bp = new Uint8Array(4096);
  const v = new DataView(bp.buffer);
  const LE = true;
  const lo = (x: bigint) => Number(x & 0xffff_ffffn);
  const hi = (x: bigint) => Number(x >> 32n);
  if (p.running && p.running.length >= 4096) {
    const r = new DataView(p.running.buffer, p.running.byteOffset, p.running.byteLength);
    bp.set(p.running.subarray(0x000, 0x040), 0x000); // screen_info (64): the console the firmware set up
    v.setBigUint64(0x070, r.getBigUint64(0x070, LE), LE); // acpi_rsdp_addr (8): 0 or where the RSDP is
    bp.set(p.running.subarray(0x290, 0x2d0), 0x290); // edd_mbr_sig_buffer (64)
    bp[0x1ea] = p.running[0x1ea]!; // edd_mbr_sig_buf_entries (1)
    bp.set(p.running.subarray(0xd00, 0xeec), 0xd00); // eddbuf (6 × 82)
    bp[0x1e9] = p.running[0x1e9]!; // eddbuf_entries (1)
  }
  bp.set(p.image.subarray(SETUP_HEADER_OFFSET, SETUP_HEADER_OFFSET + p.header.headerBytes), SETUP_HEADER_OFFSET); // hdr
  if (p.running && p.running.length >= 4096) bp.set(p.running.subarray(0x23c, 0x240), 0x23c); // hdr.hardware_subarch (4)
  bp[0x210] = 0xff; // hdr.type_of_loader (1): undefined loader
  bp[0x211] = 0; // hdr.loadflags (1): as the kernel's own kexec loader sets them
  v.setUint32(0x214, lo(p.kernelAddr), LE); // hdr.code32_start (4)
  if (p.initrd) {
    v.setUint32(0x218, lo(p.initrd.addr), LE); // hdr.ramdisk_image (4)
    v.setUint32(0x21c, p.initrd.size, LE); // hdr.ramdisk_size (4)
    v.setUint32(0x0c0, hi(p.initrd.addr), LE); // ext_ramdisk_image (4)
    v.setUint32(0x0c4, 0, LE); // ext_ramdisk_size (4)
  }
  v.setUint32(0x228, lo(p.cmdlineAddr), LE); // hdr.cmd_line_ptr (4)
  v.setUint32(0x0c8, hi(p.cmdlineAddr), LE); // ext_cmd_line_ptr (4)
  v.setUint8(0x1e8, p.e820.length); // e820_entries (1)
  p.e820.forEach((e, i) => {
    const o = 0x2d0 + i * 20; // e820_table[i]: struct boot_e820_entry (20, packed)
    v.setBigUint64(o, e.addr, LE); // addr (8)
    v.setBigUint64(o + 8, e.size, LE); // size (8)
    v.setUint32(o + 16, e.type, LE); // type (4)
  });
  // ext_mem_k / alt_mem_k: KiB of RAM above 1 MiB in the entry that spans 1 MiB, as the kernel's loader fills them.
  const span = p.e820.find((e) => e.type === E820.RAM && e.addr <= MiB1 && e.addr + e.size - 1n > MiB1);
  if (span) {
    const memK = (span.addr + span.size - 1n) / 1024n - MiB1 / 1024n;
    v.setUint16(0x002, Number(memK > 0xfc00n ? 0xfc00n : memK), LE); // screen_info.ext_mem_k (2)
    v.setUint32(0x1e0, Number(memK > 0xffff_ffffn ? 0xffff_ffffn : memK), LE); // alt_mem_k (4)
  } else {
    v.setUint16(0x002, 0, LE);
    v.setUint32(0x1e0, 0, LE);
  }
  return bp;
}
