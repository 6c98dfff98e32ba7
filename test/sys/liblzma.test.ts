import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { haveLiblzma, xzDecompress } from "../../lib/sys/liblzma.ts";
import { BadDataError } from "../../lib/errors.ts";

/** A Debian 6.12 module (.ko.xz) from the lab's kernel cache, when it was fetched. */
function labXzModule(): string | null {
  const dir = join(process.env.KDUMP_LAB_DIR ?? join(import.meta.dir, "../../.lab"), "kernels");
  if (!existsSync(dir)) return null;
  for (const rel of readdirSync(dir).filter((n) => n.startsWith("6.12"))) {
    const p = join(dir, rel, "lib/modules", rel, "kernel/drivers/block/virtio_blk.ko.xz");
    if (existsSync(p)) return p;
  }
  return null;
}

describe.if(haveLiblzma())("liblzma", () => {
  test("xzDecompress() matches the xz binary on data it compressed", () => {
    const text = new TextEncoder().encode("kdump ".repeat(100_000));
    const xz = Bun.spawnSync(["xz", "-c", "--check=crc32"], { stdin: text });
    expect(xz.exitCode).toBe(0);
    const out = xzDecompress(xz.stdout);
    expect(out.length).toBe(text.length); // 600 kB from a few hundred bytes: the output buffer had to grow
    expect(Buffer.from(out).equals(Buffer.from(text))).toBe(true);
  });

  test.skipIf(!labXzModule())("xzDecompress() unpacks a Debian 6.12 .ko.xz byte for byte as xz -dc does", () => {
    const p = labXzModule()!;
    const ours = xzDecompress(readFileSync(p));
    const theirs = Bun.spawnSync(["xz", "-dc", p]).stdout;
    expect(Buffer.from(ours).equals(Buffer.from(theirs))).toBe(true);
    expect([...ours.subarray(0, 4)]).toEqual([0x7f, 0x45, 0x4c, 0x46]);
  });

  test("xzDecompress() throws BadDataError on a truncated stream", () => {
    const xz = Bun.spawnSync(["xz", "-c"], { stdin: new TextEncoder().encode("x".repeat(5000)) }).stdout;
    expect(() => xzDecompress(xz.subarray(0, xz.length - 10))).toThrow(BadDataError);
  });
});
