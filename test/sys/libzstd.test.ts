// The collector's zstd through the system's libzstd (lib/sys/libzstd.ts): the same frames as Bun's zstd (what the
// collector wrote before) on real pages of a lab dump, readable by our decompressor, written into the caller's
// buffer; a batch compressed through it is the batch compressed without it; and the fallback when it is absent.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { dumpPages } from "../dump/_pages.ts";
import { haveLibzstd, NativeZstdCompressor } from "../../lib/sys/libzstd.ts";
import { zstdCodec } from "../../lib/dump/codecs/zstd.ts";
import { pageCompressor } from "../../lib/dump/codecs/compress.ts";
import { batchDataBytes, compressBatch } from "../../lib/dump/codecs/batch.ts";

describe.skipIf(!haveLibzstd())("NativeZstdCompressor (libzstd.so.1 is installed here)", () => {
  test(
    "compressInto() writes Bun's level-1 frame of each real page into the buffer, and it decompresses to the page",
    async () => {
      const z = new NativeZstdCompressor(1);
      const pages = await dumpPages(13);
      expect(pages.length).toBeGreaterThan(10000);
      const out = new Uint8Array(8192).fill(0xee);
      for (const p of pages) {
        const n = z.compressInto(p, out, 100);
        const bun = Bun.zstdCompressSync(p, { level: 1 });
        expect(n).toBe(bun.length);
        expect(out.subarray(100, 100 + n)).toEqual(new Uint8Array(bun));
        expect(zstdCodec.decompress(out.slice(100, 100 + n), 4096)).toEqual(p);
      }
      expect(out.subarray(0, 100).every((b) => b === 0xee)).toBe(true); // nothing before `at`
    },
    600_000,
  );

  test("compressInto() refuses a buffer without room for the worst case; compress() takes empty input", () => {
    const z = new NativeZstdCompressor(1);
    const page = Uint8Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24); // incompressible-ish
    expect(() => z.compressInto(page, new Uint8Array(4200), 200)).toThrow("bytes of room");
    expect(NativeZstdCompressor.bound(4096)).toBe(4096 + 16 + 62);
    expect(z.compress(new Uint8Array(0))).toEqual(new Uint8Array(Bun.zstdCompressSync(new Uint8Array(0), { level: 1 })));
  });

  test("compressBatch() through compressInto() equals the batch compressed page by page with Bun's zstd", async () => {
    const pages = (await dumpPages(29)).slice(0, 256);
    const all = new Uint8Array(256 * 4096);
    pages.forEach((p, i) => all.set(p, i * 4096));
    all.fill(0, 5 * 4096, 6 * 4096); // a zero page
    const job = { pages: all, count: 256, pageSize: 4096, codec: "zstd" as const, detectZero: true };
    const scratch = { count: 0, sizes: new Uint32Array(256), flags: new Uint32Array(256), data: new Uint8Array(batchDataBytes(256, 4096)) };
    const got = compressBatch(job, scratch);
    expect(pageCompressor("zstd").compressInto).toBeDefined();
    let pos = 0;
    for (let i = 0; i < 256; i++) {
      const page = all.subarray(i * 4096, (i + 1) * 4096);
      if (page.every((b) => b === 0)) {
        expect(got.sizes[i]).toBe(0); // the shared zero page (page 5 and the dump's own)
        continue;
      }
      const bun = new Uint8Array(Bun.zstdCompressSync(page, { level: 1 }));
      const stored = bun.length < 4096 ? bun : page;
      expect(got.flags[i]).toBe(bun.length < 4096 ? 0x20 : 0);
      expect(got.data.subarray(pos, pos + stored.length)).toEqual(stored);
      pos += stored.length;
    }
    expect(got.data.length).toBe(pos);
    expect(got.sizes[5]).toBe(0);
    expect(got.flags.filter((f) => f === 0x20).length).toBeGreaterThan(100);
  }, 120_000);
});

test("without libzstd (KDUMP_NO_LIBZSTD=1) zstd falls back to Bun's with the same frame", () => {
  const script = `
    import { haveLibzstd } from "${join(import.meta.dir, "../../lib/sys/libzstd.ts")}";
    import { pageCompressor } from "${join(import.meta.dir, "../../lib/dump/codecs/compress.ts")}";
    const page = Uint8Array.from({ length: 4096 }, (_, i) => (i * 13) & 0xff);
    const c = pageCompressor("zstd");
    console.log(JSON.stringify({ native: haveLibzstd(), into: c.compressInto !== undefined, out: Array.from(c.compress(page)) }));
  `;
  const r = Bun.spawnSync([process.execPath, "-e", script], { env: { ...process.env, KDUMP_NO_LIBZSTD: "1" } });
  expect(r.exitCode).toBe(0);
  const { native, into, out } = JSON.parse(r.stdout.toString());
  expect([native, into]).toEqual([false, false]);
  expect(out).toEqual(Array.from(Bun.zstdCompressSync(Uint8Array.from({ length: 4096 }, (_, i) => (i * 13) & 0xff), { level: 1 })));
});
