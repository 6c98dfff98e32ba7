// The collector's lzo through the system's liblzo2 (lib/sys/liblzo2.ts): the same bytes as our TypeScript
// LZO1X-1 on real pages of a lab dump, readable by our decompressor, and the fallback when the library is absent.
import { describe, expect, test } from "bun:test";
import { dumpPages } from "../dump/_pages.ts";
import { join } from "node:path";
import { haveLiblzo2, NativeLzo1xCompressor } from "../../lib/sys/liblzo2.ts";
import { Lzo1xCompressor } from "../../lib/dump/codecs/lzo_compress.ts";
import { lzo1xDecompress } from "../../lib/dump/codecs/lzo.ts";
import { pageCompressor } from "../../lib/dump/codecs/compress.ts";

describe.skipIf(!haveLiblzo2())("NativeLzo1xCompressor (liblzo2.so.2 is installed here)", () => {
  test(
    "compress() gives our TypeScript LZO1X-1's bytes on real pages, and they decompress to the page",
    async () => {
      const native = new NativeLzo1xCompressor();
      const ours = new Lzo1xCompressor();
      const pages = await dumpPages(97);
      expect(pages.length).toBeGreaterThan(1000);
      for (const p of pages) {
        const c = native.compress(p);
        expect(c).toEqual(ours.compress(p));
        expect(lzo1xDecompress(c, 4096)).toEqual(p);
      }
    },
    600_000,
  );

  test("compress() takes empty, tiny and multi-page inputs, and returns a fresh array each call", () => {
    const native = new NativeLzo1xCompressor();
    const ours = new Lzo1xCompressor();
    for (const n of [0, 1, 3, 17, 4096, 3 * 65536 + 5]) {
      const src = Uint8Array.from({ length: n }, (_, i) => (i * 7) % 251 ^ (i >> 9));
      expect(native.compress(src)).toEqual(ours.compress(src));
    }
    const a = native.compress(new Uint8Array(4096));
    const copy = a.slice();
    native.compress(new Uint8Array(4096).fill(9));
    expect(a).toEqual(copy);
  });

  test("pageCompressor(\"lzo\") uses it", () => {
    const page = Uint8Array.from({ length: 4096 }, (_, i) => i & 0x3f);
    expect(pageCompressor("lzo").compress(page)).toEqual(new NativeLzo1xCompressor().compress(page));
  });
});

test("without liblzo2 (KDUMP_NO_LIBLZO2=1) lzo falls back to our codec with the same output", () => {
  const script = `
    import { haveLiblzo2 } from "${join(import.meta.dir, "../../lib/sys/liblzo2.ts")}";
    import { pageCompressor } from "${join(import.meta.dir, "../../lib/dump/codecs/compress.ts")}";
    const page = Uint8Array.from({ length: 4096 }, (_, i) => (i * 13) & 0xff);
    console.log(JSON.stringify({ native: haveLiblzo2(), out: Array.from(pageCompressor("lzo").compress(page)) }));
  `;
  const r = Bun.spawnSync([process.execPath, "-e", script], { env: { ...process.env, KDUMP_NO_LIBLZO2: "1" } });
  expect(r.exitCode).toBe(0);
  const { native, out } = JSON.parse(r.stdout.toString());
  expect(native).toBe(false);
  expect(Array.from(out as number[])).toEqual(Array.from(new Lzo1xCompressor().compress(Uint8Array.from({ length: 4096 }, (_, i) => (i * 13) & 0xff))));
});
