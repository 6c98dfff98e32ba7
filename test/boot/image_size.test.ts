import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initramfsSize, kernelImageSize, xzUncompressedSize } from "../../lib/boot/image_size.ts";
import { fetchKernel } from "../../lib/lab/kernels.ts";

/**
 * The compressed vmlinux inside a bzImage: setup_sects @0x1f1, payload_offset/_length @0x248/0x24c; the build
 * appends the decompressed size as 4 more bytes (scripts/Makefile.lib size_append), left out here.
 */
function payload(bz: Uint8Array): Uint8Array {
  const v = new DataView(bz.buffer, bz.byteOffset);
  const start = ((bz[0x1f1] || 4) + 1) * 512 + v.getUint32(0x248, true);
  return bz.subarray(start, start + v.getUint32(0x24c, true) - 4);
}

/** readelf is the oracle for an ELF's PT_LOAD sizes. */
async function readelfMemsz(path: string): Promise<number> {
  const out = (await Bun.$`readelf -lW ${path}`.quiet()).stdout.toString();
  return [...out.matchAll(/^\s*LOAD\s+\S+\s+\S+\s+\S+\s+\S+\s+(0x[0-9a-f]+)/gm)].reduce((s, m) => s + Number(m[1]), 0);
}

describe("kernelImageSize()", () => {
  // Debian's 6.12 cloud kernel carries a zstd-compressed vmlinux, which Bun decompresses: readelf measures it.
  test("reads init_size of Debian's bzImage, at least the vmlinux's PT_LOAD size and at most 1.5× it", async () => {
    const k = await fetchKernel("6.12");
    const bz = new Uint8Array(readFileSync(k.vmlinuz));
    const dir = mkdtempSync(join(tmpdir(), "vmlinux-"));
    try {
      const vmlinux = Bun.zstdDecompressSync(payload(bz));
      writeFileSync(join(dir, "vmlinux"), vmlinux);
      const memsz = await readelfMemsz(join(dir, "vmlinux"));
      const s = kernelImageSize(bz);
      expect(s.from).toBe("bzImage init_size");
      expect(s.bytes).toBeGreaterThanOrEqual(memsz);
      expect(s.bytes).toBeLessThan(memsz * 1.5);
      expect(kernelImageSize(vmlinux)).toEqual({ bytes: memsz, from: "ELF PT_LOAD" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120000);

  test("falls back to 4× the file size for an unknown format, and says so", () => {
    expect(kernelImageSize(new Uint8Array(1000))).toEqual({ bytes: 4000, from: "file size ×4 (unknown format)" });
  });
});

describe("initramfsSize()", () => {
  // GNU cpio, gzip, xz and zstd make the archive; stat() of the files is the oracle for the sizes.
  test("measures a plain early archive followed by a gzip one, modules decompressed (.ko, .ko.xz, .ko.zst)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "initramfs-"));
    try {
      const early = join(dir, "early");
      const main = join(dir, "main");
      mkdirSync(join(early, "kernel/x86/microcode"), { recursive: true });
      mkdirSync(join(main, "lib/modules/6.12/kernel"), { recursive: true });
      writeFileSync(join(early, "kernel/x86/microcode/GenuineIntel.bin"), new Uint8Array(5000).fill(7));
      const ko = (n: number) => new Uint8Array(n).map((_, i) => (i * 31) % 251);
      writeFileSync(join(main, "init"), "#!/bin/sh\nexec sh\n");
      writeFileSync(join(main, "lib/modules/6.12/kernel/a.ko"), ko(30000));
      writeFileSync(join(main, "lib/modules/6.12/kernel/b.ko"), ko(70000));
      writeFileSync(join(main, "lib/modules/6.12/kernel/c.ko"), ko(50000));
      await Bun.$`cd ${join(main, "lib/modules/6.12/kernel")} && xz --check=crc32 b.ko && zstd -q --rm c.ko`.quiet();
      await Bun.$`cd ${early} && find . | cpio -o -H newc --quiet > ../early.cpio`.quiet();
      await Bun.$`cd ${main} && find . | cpio -o -H newc --quiet | gzip -9 > ../main.cpio.gz`.quiet();
      const img = new Uint8Array([...readFileSync(join(dir, "early.cpio")), ...readFileSync(join(dir, "main.cpio.gz"))]);
      const files = (d: string): number => readdirSync(d, { withFileTypes: true }).reduce((s, e) => s + (e.isDirectory() ? files(join(d, e.name)) : statSync(join(d, e.name)).size), 0);
      const r = initramfsSize(img);
      expect(r.formats).toEqual(["none", "gzip"]);
      expect(r.bytes).toBe(img.length);
      expect(r.unpacked).toBe(files(early) + files(main));
      expect(r.moduleCount).toBe(3);
      expect(r.modules).toBe(30000 + 70000 + 50000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("reports the unpacked size unknown for a compression it cannot read (lzma)", () => {
    const r = initramfsSize(new Uint8Array([0x5d, 0, 0, 0x80, 0, 1, 2, 3]));
    expect(r).toMatchObject({ unpacked: null, formats: ["lzma"] });
  });
});

describe("xzUncompressedSize()", () => {
  test("reads the size of Debian 6.12 .ko.xz modules from their index, as xz -dc | wc -c counts it", async () => {
    const k = await fetchKernel("6.12");
    const found = (await Bun.$`find ${k.modulesDir} -name '*.ko.xz'`.quiet()).stdout.toString().trim().split("\n").slice(0, 5);
    expect(found.length).toBe(5);
    for (const f of found) {
      const n = Number((await Bun.$`xz -dc ${f} | wc -c`.quiet()).stdout.toString().trim());
      expect(xzUncompressedSize(new Uint8Array(readFileSync(f)))).toBe(n);
    }
  }, 120000);
});
