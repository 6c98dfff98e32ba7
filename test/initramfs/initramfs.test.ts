// The capture initramfs built from this machine's busybox and Debian's real 6.1/6.12 modules, unpacked with
// zstd/gzip and GNU cpio as the oracles; the kernel unpacking it for real is in test/lab/load.test.ts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $ } from "bun";
import { buildInitramfs, findBusybox, initramfsCodec, type InitramfsOptions } from "../../lib/initramfs/initramfs.ts";
import { captureInit } from "../../lib/initramfs/init.ts";
import { moduleIndex, resolveModules } from "../../lib/initramfs/modules.ts";
import { fetchKernel, type LabKernel } from "../../lib/lab/kernels.ts";

const scratch = mkdtempSync(join(tmpdir(), "kdump-initramfs-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const INIT = { target: "/var/crash", bun: "/usr/local/bin/bun", kdump: "/opt/kdump/kdump.ts", rootWaitSeconds: 30 };

/** Unpacks an image with the CLI decompressor and GNU cpio into a fresh folder; returns it and the member list. */
async function unpack(path: string, codec: string): Promise<{ dir: string; names: string[] }> {
  const dir = mkdtempSync(join(scratch, "x-"));
  const cat = codec === "zstd" ? "zstd -dc" : codec === "gzip" ? "gzip -dc" : "cat";
  await $`sh -c ${`${cat} < '${path}' | (cd '${dir}' && cpio -idm --quiet)`}`.quiet();
  const list = (await $`sh -c ${`${cat} < '${path}' | cpio -t --quiet`}`.quiet()).stdout.toString().trim().split("\n");
  return { dir, names: list };
}

describe.each(["6.1", "6.12"])("buildInitramfs() for Debian %s", (line) => {
  let k: LabKernel;
  let opts: InitramfsOptions;
  beforeAll(async () => {
    k = await fetchKernel(line);
    const idx = moduleIndex(k.modulesDir);
    opts = {
      release: k.release,
      modules: resolveModules(["virtio_blk", "virtio_pci", "ext4"], idx),
      init: INIT,
      codec: initramfsCodec(readFileSync(k.config!, "utf8")),
      cacheDir: join(scratch, line),
    };
  }, 300_000);

  test("initramfsCodec() picks zstd from the kernel's CONFIG_RD_ZSTD=y", () => {
    expect(opts.codec).toBe("zstd");
    expect(initramfsCodec("CONFIG_RD_GZIP=y\n# CONFIG_RD_ZSTD is not set\n")).toBe("gzip");
    expect(initramfsCodec(null)).toBe("gzip");
  });

  test("buildInitramfs() holds busybox, the applets, /init and each module decompressed, as cpio sees it", async () => {
    const b = buildInitramfs(opts);
    expect(b.built).toBe(true);
    expect(statSync(b.path).size).toBe(b.bytes);
    const { dir, names } = await unpack(b.path, b.codec);
    expect(names).toContain("bin/busybox");
    expect(names).toContain("init");
    for (const a of ["sh", "mount", "insmod", "chroot", "findfs", "dd", "timeout", "reboot"]) expect(names).toContain(`bin/${a}`);
    expect(readFileSync(join(dir, "bin/busybox")).equals(readFileSync(findBusybox()))).toBe(true);
    expect(readFileSync(join(dir, "init"), "utf8")).toBe(captureInit({ ...INIT, modules: opts.modules.map((m) => `${m.name}.ko`) }));
    expect(statSync(join(dir, "init")).mode & 0o777).toBe(0o755);
    for (const m of opts.modules) {
      const inside = readFileSync(join(dir, "lib/modules", `${m.name}.ko`));
      const want = m.path.endsWith(".xz") ? (await $`xz -dc ${m.path}`.quiet()).stdout : readFileSync(m.path);
      expect(inside.equals(Buffer.from(want))).toBe(true);
      expect(inside.subarray(0, 4).toString("latin1")).toBe("\x7fELF");
    }
    const unpacked = (await $`sh -c ${`zstd -dc < '${b.path}' | wc -c`}`.quiet()).stdout.toString().trim();
    expect(b.cpioBytes).toBe(Number(unpacked));
  });

  test("buildInitramfs() reuses the cached image while its inputs are unchanged", () => {
    const a = buildInitramfs(opts);
    const b = buildInitramfs(opts);
    expect(b.built).toBe(false);
    expect(b.path).toBe(a.path);
    expect(b.bytes).toBe(a.bytes);
  });

  test("buildInitramfs() rebuilds when an input changes and removes the older image of the same kernel", () => {
    const a = buildInitramfs(opts);
    const b = buildInitramfs({ ...opts, init: { ...INIT, target: "/srv/dumps" } });
    expect(b.built).toBe(true);
    expect(b.path).not.toBe(a.path);
    expect(existsSync(a.path)).toBe(false);
    expect(readdirSync(opts.cacheDir!).filter((f) => f.endsWith(".img"))).toEqual([b.path.split("/").pop()!]);
  });

  test("buildInitramfs() with gzip is read back by gzip and cpio", async () => {
    const b = buildInitramfs({ ...opts, codec: "gzip", cacheDir: join(scratch, `${line}-gz`) });
    const { names } = await unpack(b.path, "gzip");
    expect(names).toContain("init");
    expect([...readFileSync(b.path).subarray(0, 2)]).toEqual([0x1f, 0x8b]);
  });
});
