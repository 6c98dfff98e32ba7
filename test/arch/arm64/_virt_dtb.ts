// QEMU's own arm64 virt machine DTB, what an arm64 guest's /sys/firmware/fdt holds: `-machine virt,dumpdtb=` writes
// it without booting a guest; and Debian's newest arm64 Image. The arm64 tests share them.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $ } from "bun";
import { fetchKernel } from "../../../lib/lab/kernels.ts";
import { findQemu } from "../../../lib/lab/qemu.ts";

/**
 * The virt machine's DTB (1 GiB, 2 CPUs, -cpu max), dumped by qemu-system-aarch64.
 * @example parseFdt(await virtDtb())
 */
export async function virtDtb(): Promise<Uint8Array> {
  const dir = mkdtempSync(join(tmpdir(), "fdt-"));
  try {
    await $`${await findQemu("qemu-system-aarch64")} -machine virt,dumpdtb=${join(dir, "virt.dtb")} -cpu max -m 1024 -smp 2 -nographic`.quiet().nothrow();
    return new Uint8Array(readFileSync(join(dir, "virt.dtb")));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Debian's newest arm64 Image (from the lab's kernels) and the virt DTB: what the arm64 layout tests plan with.
 * @example const { image, dtb } = await newestImageAndDtb()
 */
export async function newestImageAndDtb(): Promise<{ image: Uint8Array; dtb: Uint8Array }> {
  const image = new Uint8Array(readFileSync((await fetchKernel("newest", "arm64")).vmlinuz));
  return { image, dtb: await virtDtb() };
}
