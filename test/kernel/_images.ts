// Kernel images for tests and benchmarks: the ELF vmlinux inside a Debian bzImage (symbols stripped, sections
// kept: .BTF, .orc_unwind_ip, .orc_unwind) and Debian's -dbg vmlinux and System.map (the oracle for symbols).
// Both are made from registry packages and cached under the lab directory.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { $ } from "bun";
import { LabError } from "../../lib/errors.ts";
import { aptSuite } from "../../lib/lab/apt.ts";
import { fetchKernel, LAB_KERNEL_LINES } from "../../lib/lab/kernels.ts";
import type { ArchName } from "../../lib/arch/arch.ts";
import { labDir } from "../../lib/lab/labdir.ts";
import { buildOnce } from "../../lib/lab/lock.ts";

/** The payload of a bzImage: its compression and bytes (setup header fields payload_offset @0x248, payload_length @0x24c). */
export function bzImagePayload(image: Uint8Array): { codec: "zstd" | "lz4" | "xz" | "gzip"; bytes: Uint8Array } {
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  if (dv.getUint32(0x202, true) !== 0x53726448) throw new LabError("not a bzImage: no HdrS signature at 0x202");
  const setupSects = image[0x1f1] || 4;
  const start = (setupSects + 1) * 512 + dv.getUint32(0x248, true);
  const bytes = image.subarray(start, start + dv.getUint32(0x24c, true));
  const magic = Buffer.from(bytes.subarray(0, 4)).toString("hex");
  const codecs: Record<string, "zstd" | "lz4" | "xz" | "gzip"> = { "28b52ffd": "zstd", "02214c18": "lz4", fd377a58: "xz" };
  const codec = codecs[magic] ?? (magic.startsWith("1f8b") ? "gzip" : undefined);
  if (!codec) throw new LabError(`bzImage payload compression unknown (magic ${magic})`);
  return { codec, bytes };
}

/**
 * The uncompressed ELF vmlinux of a lab kernel line, cached as `.lab/vmlinux/<release>`.
 * The decompressors exit non-zero on the 4-byte size trailer the kernel appends; the ELF is checked instead.
 */
export async function strippedVmlinux(line: string): Promise<{ path: string; release: string }> {
  const k = await fetchKernel(line);
  const dir = join(labDir(), "vmlinux");
  const path = join(dir, k.release);
  mkdirSync(dir, { recursive: true });
  await buildOnce(path, () => (existsSync(path) ? path : undefined), () => decompressVmlinux(k.vmlinuz, path));
  return { path, release: k.release };
}

async function decompressVmlinux(vmlinuz: string, path: string): Promise<string> {
  const { codec, bytes } = bzImagePayload(readFileSync(vmlinuz));
  const tmp = `${path}.tmp-${process.pid}`;
  const input = `${tmp}.in`;
  writeFileSync(input, bytes);
  const tool = { zstd: "zstd -dc", lz4: "lz4 -dc", xz: "xz -dc", gzip: "gzip -dc" }[codec];
  await $`sh -c ${`${tool} < "$0" > "$1"`} ${input} ${tmp}`.quiet().nothrow();
  rmSync(input);
  const head = readFileSync(tmp).subarray(0, 4);
  if (Buffer.from(head).toString("hex") !== "7f454c46") throw new LabError(`decompressing ${vmlinuz} (${codec}) gave no ELF`, { hint: `is ${tool.split(" ")[0]} installed?` });
  renameSync(tmp, path);
  return path;
}

/** Debian's debug vmlinux (full symtab and DWARF) and the real System.map of a lab kernel line. */
export interface DebugKernel {
  /** uname -r. */
  release: string;
  /** The DWARF vmlinux (~350–590 MB). */
  vmlinux: string;
  /** The System.map (the one in the non-dbg package is a placeholder). */
  systemMap: string;
}

/**
 * Extracts vmlinux and System.map from `linux-image-<release>-dbg` (only those two files), cached under
 * `.lab/pkgs/linux-image-<release>-dbg/`.
 */
export async function debugKernel(line: string, arch: ArchName = "x86_64"): Promise<DebugKernel> {
  const { release, layout } = await fetchKernel(line, arch);
  const pkg = `linux-image-${release}-dbg`;
  const apt = await aptSuite(LAB_KERNEL_LINES[arch][line]!.suite);
  const dir = join(labDir(), "pkgs", pkg);
  const out = { release, vmlinux: join(dir, `vmlinux-${release}`), systemMap: join(dir, `System.map-${release}`) };
  return buildOnce(dir, () => (existsSync(join(dir, ".done")) ? out : undefined), async () => {
    // from 7.x the -dbg files are under usr/lib/debug/lib/modules/R/ (usr/lib/debug/boot/ only links there)
    const from = layout === "usr" ? [`./usr/lib/debug/lib/modules/${release}/vmlinux`, `./usr/lib/debug/lib/modules/${release}/System.map`] : [`./usr/lib/debug/boot/vmlinux-${release}`, `./usr/lib/debug/boot/System.map-${release}`];
    await extractDebug(pkg, from, [out.vmlinux, out.systemMap], dir, apt);
    return out;
  });
}

async function extractDebug(pkg: string, members: string[], dests: string[], dir: string, apt: string[]): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    const dl = await $`apt-get ${apt} download ${pkg}`.cwd(tmp).quiet().nothrow();
    if (dl.exitCode !== 0) throw new LabError(`apt-get download ${pkg} failed`, { hint: "run `apt-get update` first (as root)" });
    const deb = (await $`ls ${tmp}`.text()).split("\n").find((f) => f.endsWith(".deb"))!;
    await $`dpkg-deb --fsys-tarfile ${join(tmp, deb)} | tar -x -C ${tmp} ${members}`.quiet();
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    members.forEach((m, i) => renameSync(join(tmp, m), dests[i]!));
    writeFileSync(join(dir, ".done"), "");
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
