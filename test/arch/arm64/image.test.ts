// The arm64 Image header on Debian's real arm64 kernel (from the lab's arm64 kernel lines), and EFI zboot
// unwrapping on synthetic wrappers around that Image: no Debian kernel here is a zboot image, so the wrapper is
// built as zboot-header.S lays it out (unproven against a distribution's zboot kernel).
import { beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { arm64Image, parseArm64Image, parseZboot } from "../../../lib/arch/arm64/image.ts";
import { fetchKernel } from "../../../lib/lab/kernels.ts";

/** A zboot file: MZ, "zimg", payload offset and size, the compression's name at 24, then the payload. */
function zboot(payload: Uint8Array, compression: string): Uint8Array {
  const head = new Uint8Array(512);
  const v = new DataView(head.buffer);
  head.set([0x4d, 0x5a], 0); // MZ (2)
  head.set(new TextEncoder().encode("zimg"), 4); // image type (4)
  v.setUint32(8, head.length, true); // payload offset (4)
  v.setUint32(12, payload.length, true); // payload size (4)
  head.set(new TextEncoder().encode(compression), 24); // compression type, NUL-terminated
  v.setUint32(0x38, 0x818223cd, true); // LINUX_PE_MAGIC (4)
  const out = new Uint8Array(head.length + payload.length);
  out.set(head);
  out.set(payload, head.length);
  return out;
}

describe("arm64 Image", () => {
  let image: Uint8Array;
  beforeAll(async () => {
    image = readFileSync((await fetchKernel("newest", "arm64")).vmlinuz);
  }, 600_000);

  test("parseArm64Image() reads Debian's newest arm64 kernel: 4K pages, little-endian, placed anywhere, image_size past the file", () => {
    const h = parseArm64Image(image)!;
    expect(h.pageSize).toBe(4096);
    expect(h.bigEndian).toBe(false);
    expect(h.anywhere).toBe(true);
    expect(h.textOffset).toBe(0n);
    expect(h.imageSize).toBeGreaterThan(BigInt(image.length)); // bss is not in the file
  });

  test("parseArm64Image() is null for a bzImage-like or short file", () => {
    expect(parseArm64Image(new Uint8Array(63))).toBeNull();
    expect(parseArm64Image(new Uint8Array(4096))).toBeNull();
  });

  test.each(["gzip", "zstd"])("arm64Image() unwraps a %s EFI zboot image to the Image inside", (c) => {
    const part = image.subarray(0, 1 << 20);
    const payload = c === "gzip" ? Bun.gzipSync(part as Uint8Array<ArrayBuffer>) : Bun.zstdCompressSync(part);
    const file = zboot(payload, c);
    expect(parseZboot(file)).toEqual({ compression: c, payloadOffset: 512, payloadSize: payload.length });
    expect(Buffer.from(arm64Image(file)).equals(Buffer.from(part))).toBe(true);
    expect(arm64Image(image)).toBe(image);
  });

  test("arm64Image() names what it cannot read: another compression, a payload past the end, not a kernel", () => {
    expect(() => arm64Image(zboot(new Uint8Array(16), "lzma"))).toThrow("compressed with lzma");
    const cut = zboot(new Uint8Array(100), "gzip").subarray(0, 560);
    expect(() => arm64Image(cut)).toThrow(RangeError);
    expect(() => arm64Image(new Uint8Array(4096))).toThrow("not an arm64 Image");
  });
});
