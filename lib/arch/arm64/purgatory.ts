// The arm64 purgatory for kexec_load: where the crashed kernel jumps (MMU off, x0 = 0: only kexec_file_load tells
// the kernel where the DTB is, in kimage->arch.dtb_mem). Six instructions set x0 to the DTB's physical address, clear
// x1–x3 and branch to the Image, as Documentation/arch/arm64/booting.rst asks. It does not check the segments'
// SHA-256 as kexec-tools' purgatory does (issue 15): the kernel copied them into the reservation itself.

/** Bytes of the trampoline: six instructions, then the two addresses it loads. */
export const ARM64_PURGATORY_BYTES = 40;

/**
 * The trampoline for a DTB at `dtb` and an Image entered at `kernel` (both physical).
 * @example arm64Purgatory(0x70000000n, 0x60200000n).length // 40
 */
export function arm64Purgatory(dtb: bigint, kernel: bigint): Uint8Array {
  const out = new Uint8Array(ARM64_PURGATORY_BYTES);
  const v = new DataView(out.buffer);
  const LE = true;
  const ldrLiteral = (rt: number, at: number, target: number) => 0x58000000 | (((target - at) / 4) << 5) | rt; // LDR Xt, label
  v.setUint32(0, ldrLiteral(0, 0, 24), LE); // ldr x0, dtb
  v.setUint32(4, ldrLiteral(4, 4, 32), LE); // ldr x4, kernel
  v.setUint32(8, 0xaa1f03e1, LE); // mov x1, xzr
  v.setUint32(12, 0xaa1f03e2, LE); // mov x2, xzr
  v.setUint32(16, 0xaa1f03e3, LE); // mov x3, xzr
  v.setUint32(20, 0xd61f0080, LE); // br x4
  v.setBigUint64(24, dtb, LE); // dtb (8)
  v.setBigUint64(32, kernel, LE); // kernel (8)
  return out;
}
