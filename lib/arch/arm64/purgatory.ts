// The arm64 purgatory for kexec_load (lib/arch/arm64/purgatory/: entry.S, purgatory.c, sha256.c, built into
// purgatory_blob.ts) and its parameter block. The crashed kernel jumps to it with the MMU off; it hashes the loaded
// segments in physical memory and compares with the SHA-256 computed here at load time, as kexec-tools' purgatory
// does, then enters the Image with x0 = the DTB (booting.rst), or on a mismatch prints a line on the PL011 the
// DTB's /chosen stdout-path names and waits forever.
import { BadDataError, UsageError } from "../../errors.ts";
import type { Fdt, FdtNode } from "./fdt.ts";
import { ARM64_PURGATORY_BASE64 } from "./purgatory/purgatory_blob.ts";

/** What the purgatory is told. */
export interface Arm64PurgatoryParams {
  /** The Image's physical address (text_offset included). */
  kernel: bigint;
  /** The capture DTB's physical address, passed in x0. */
  dtb: bigint;
  /** A PL011's register base for the verdict line, or null to stay silent. */
  uart: bigint | null;
  /** The segments to verify after the crash: their SHA-256, one after another, is computed now. */
  regions: { addr: bigint; data: Uint8Array }[];
}

const MAGIC = "KDPARM01";
/** Offsets in the binary of struct params (purgatory.c), which purgatory.lds puts at 8. */
const OFF = { magic: 0x08, kernel: 0x10, dtb: 0x18, uart: 0x20, nrRegions: 0x28, sha256: 0x30, regions: 0x50 } as const;
/** The most regions the block holds (MAX_REGIONS in purgatory.c). */
export const ARM64_PURGATORY_MAX_REGIONS = 16;

/**
 * The checked-in purgatory binary (about 6 KiB; position independent, for a page-aligned address). Throws
 * BadDataError if it is not the layout this file writes.
 * @example arm64PurgatoryImage().length // 5952
 */
export function arm64PurgatoryImage(): Uint8Array {
  const bin = new Uint8Array(Buffer.from(ARM64_PURGATORY_BASE64, "base64"));
  if (new TextDecoder().decode(bin.subarray(OFF.magic, OFF.magic + 8)) !== MAGIC)
    throw new BadDataError(`arm64 purgatory: no ${MAGIC} parameter block at 0x${OFF.magic.toString(16)}`, { hint: "rebuild it: bun lib/arch/arm64/purgatory/build.ts" });
  return bin;
}

/**
 * The SHA-256 the purgatory checks: of every region's bytes, one after another (kexec-tools' sha256_regions).
 * @example regionsDigest([{ addr: 0x60200000n, data: image }]).length // 32
 */
export function regionsDigest(regions: { data: Uint8Array }[]): Uint8Array {
  const h = new Bun.CryptoHasher("sha256");
  for (const r of regions) h.update(r.data);
  return new Uint8Array(h.digest());
}

/**
 * A copy of the purgatory with its parameter block filled in. Throws UsageError for more regions than it holds.
 * @example arm64Purgatory({ kernel: 0x60200000n, dtb: 0x6e000000n, uart: 0x9000000n, regions })
 */
export function arm64Purgatory(p: Arm64PurgatoryParams, image = arm64PurgatoryImage()): Uint8Array {
  if (p.regions.length > ARM64_PURGATORY_MAX_REGIONS) throw new UsageError(`the arm64 purgatory checks at most ${ARM64_PURGATORY_MAX_REGIONS} regions, got ${p.regions.length}`);
  const out = image.slice();
  const v = new DataView(out.buffer);
  const LE = true;
  v.setBigUint64(OFF.kernel, p.kernel, LE); // kernel (8)
  v.setBigUint64(OFF.dtb, p.dtb, LE); // dtb (8)
  v.setBigUint64(OFF.uart, p.uart ?? 0n, LE); // uart (8)
  v.setBigUint64(OFF.nrRegions, BigInt(p.regions.length), LE); // nr_regions (8)
  out.set(regionsDigest(p.regions), OFF.sha256); // sha256 (32)
  p.regions.forEach((r, i) => {
    const o = OFF.regions + i * 16; // struct region { u64 addr; u64 size; }
    v.setBigUint64(o, r.addr, LE); // addr (8)
    v.setBigUint64(o + 8, BigInt(r.data.length), LE); // size (8)
  });
  return out;
}

/**
 * The PL011 the DTB's /chosen stdout-path names (a path or an /aliases name, options after ':' ignored): its first
 * reg address, when the node and its parents sit in the root's address space (no ranges translation); else null.
 * QEMU virt: "/pl011@9000000" → 0x9000000.
 * @example stdoutPl011(parseFdt(readFileSync("/sys/firmware/fdt"))) // 0x9000000n
 */
export function stdoutPl011(fdt: Fdt): bigint | null {
  const str = (b: Uint8Array | undefined) => (b ? new TextDecoder().decode(b).replace(/\0.*$/s, "") : null);
  const chosen = fdt.root.children.find((n) => n.name === "chosen");
  let path = str(chosen?.props.get("stdout-path") ?? chosen?.props.get("linux,stdout-path"))?.split(":")[0];
  if (!path) return null;
  if (!path.startsWith("/")) path = str(fdt.root.children.find((n) => n.name === "aliases")?.props.get(path)) ?? "";
  const chain: FdtNode[] = [fdt.root];
  for (const part of path.split("/").filter(Boolean)) {
    const next = chain[chain.length - 1]!.children.find((n) => n.name === part || n.name.split("@")[0] === part);
    if (!next) return null;
    chain.push(next);
  }
  const node = chain[chain.length - 1]!;
  const compatible = node.props.get("compatible");
  if (!compatible || !new TextDecoder().decode(compatible).split("\0").includes("arm,pl011")) return null;
  // a reg in a bus with a non-empty ranges is a bus address, not a physical one
  if (chain.slice(1, -1).some((n) => n.props.get("ranges")?.length !== 0)) return null;
  const parent = chain[chain.length - 2]!;
  const cells = parent.props.get("#address-cells");
  const ac = cells?.length === 4 ? new DataView(cells.buffer, cells.byteOffset, 4).getUint32(0) : 2;
  const reg = node.props.get("reg");
  if (!reg || reg.length < ac * 4 || ac < 1 || ac > 2) return null;
  const rv = new DataView(reg.buffer, reg.byteOffset, reg.byteLength);
  return ac === 2 ? rv.getBigUint64(0) : BigInt(rv.getUint32(0));
}
