import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync, readlinkSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Cpio } from "../../lib/initramfs/cpio.ts";
import { removeScratch, scratchDir } from "../_scratch.ts";

afterAll(removeScratch);

// GNU cpio is the oracle: what it lists and extracts is what the kernel's initramfs unpacker sees.
describe("Cpio", () => {
  const archive = new Cpio()
    .file("init", "#!/bin/sh\necho hi\n", 0o755)
    .file("etc/deep/nested/file.txt", new Uint8Array([1, 2, 3]))
    .symlink("bin/sh", "busybox")
    .dir("proc", 0o555)
    .bytes();
  const dir = scratchDir("kdump-cpio-");
  writeFileSync(join(dir, "a.cpio"), archive);

  test("bytes() is read back by GNU cpio with every member and parent directory", async () => {
    const out = await Bun.$`cpio -it < ${join(dir, "a.cpio")}`.quiet();
    expect(out.stdout.toString().trim().split("\n").sort()).toEqual(
      ["bin", "bin/sh", "etc", "etc/deep", "etc/deep/nested", "etc/deep/nested/file.txt", "init", "proc"].sort(),
    );
  });

  test("bytes() extracts with contents, modes and symlinks intact", async () => {
    const x = join(dir, "x");
    await Bun.$`mkdir -p ${x} && cd ${x} && cpio -idm --quiet < ../a.cpio`.quiet();
    expect(readFileSync(join(x, "init"), "utf8")).toBe("#!/bin/sh\necho hi\n");
    expect(statSync(join(x, "init")).mode & 0o777).toBe(0o755);
    expect([...readFileSync(join(x, "etc/deep/nested/file.txt"))]).toEqual([1, 2, 3]);
    expect(readlinkSync(join(x, "bin/sh"))).toBe("busybox");
    expect(statSync(join(x, "proc")).mode & 0o777).toBe(0o555);
  });

  test("bytes() pads every record to 4 bytes and is deterministic", () => {
    expect(archive.length % 4).toBe(0);
    const again = new Cpio().file("init", "#!/bin/sh\necho hi\n", 0o755).file("etc/deep/nested/file.txt", new Uint8Array([1, 2, 3])).symlink("bin/sh", "busybox").dir("proc", 0o555).bytes();
    expect(Buffer.from(again).equals(Buffer.from(archive))).toBe(true);
  });

  test("file() at an existing path replaces the earlier contents", async () => {
    const c = new Cpio().file("a", "one").file("a", "two").bytes();
    writeFileSync(join(dir, "r.cpio"), c);
    const out = await Bun.$`cpio -i --to-stdout a < ${join(dir, "r.cpio")}`.quiet();
    expect(out.stdout.toString()).toBe("two");
  });
});
