// Our x86_64 purgatory (lib/arch/x86_64/purgatory/purgatory.s, assembled into purgatory.bin) and its parameter block:
// the kernel entry, boot_params, and the SHA-256 of each segment it checks before starting the capture kernel.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BadDataError, UsageError } from "../../errors.ts";
import { PURGATORY_DIR } from "./purgatory/build.ts";

/** What the purgatory is told. */
export interface PurgatoryParams {
  /** The kernel's 64-bit entry point: its load address + 0x200. */
  entry: bigint;
  /** Physical address of boot_params (%rsi at the kernel entry). */
  bootParams: bigint;
  /** Print progress and a digest mismatch on COM1 (when the capture console is ttyS0). */
  serial: boolean;
  /** Memory to verify: each range's SHA-256 is computed now over `data` and checked after the crash. */
  regions: { addr: bigint; data: Uint8Array }[];
}

/** Offsets in the parameter block (see purgatory.s). */
const MAGIC = "KDPURG01";
const OFF = { magic: 0x08, entry: 0x10, bootParams: 0x18, flags: 0x20, nrRegions: 0x28, regions: 0x30 } as const;
/** The most regions the block holds. */
export const PURGATORY_MAX_REGIONS = 16;

/**
 * The checked-in purgatory binary (6 KiB). Throws BadDataError if it is not the layout this file writes.
 * @example purgatoryImage().length // 6240
 */
export function purgatoryImage(): Uint8Array {
  const bin = new Uint8Array(readFileSync(join(PURGATORY_DIR, "purgatory.bin")));
  if (new TextDecoder().decode(bin.subarray(OFF.magic, OFF.magic + 8)) !== MAGIC)
    throw new BadDataError(`purgatory.bin: no ${MAGIC} parameter block at 0x${OFF.magic.toString(16)}`, { hint: "rebuild it: bun lib/arch/x86_64/purgatory/build.ts" });
  return bin;
}

/**
 * A copy of the purgatory with its parameter block filled in.
 * @example patchPurgatory(purgatoryImage(), { entry: 0x31000200n, bootParams: 0x3e000000n, serial: true, regions })
 */
export function patchPurgatory(image: Uint8Array, p: PurgatoryParams): Uint8Array {
  if (p.regions.length > PURGATORY_MAX_REGIONS) throw new UsageError(`the purgatory checks at most ${PURGATORY_MAX_REGIONS} regions, got ${p.regions.length}`);
  const out = image.slice();
  const v = new DataView(out.buffer);
  const LE = true;
  v.setBigUint64(OFF.entry, p.entry, LE); // entry (8)
  v.setBigUint64(OFF.bootParams, p.bootParams, LE); // boot_params (8)
  v.setBigUint64(OFF.flags, p.serial ? 1n : 0n, LE); // flags (8)
  v.setBigUint64(OFF.nrRegions, BigInt(p.regions.length), LE); // nr_regions (8)
  p.regions.forEach((r, i) => {
    const o = OFF.regions + i * 48; // { u64 addr; u64 size; u8 sha256[32] }
    v.setBigUint64(o, r.addr, LE); // addr (8)
    v.setBigUint64(o + 8, BigInt(r.data.length), LE); // size (8)
    out.set(new Bun.CryptoHasher("sha256").update(r.data).digest(), o + 16); // sha256 (32)
  });
  return out;
}
