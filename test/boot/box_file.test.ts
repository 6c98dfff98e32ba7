import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KdumpError } from "../../lib/errors.ts";
import { bytesToText, displayText, readBoxBytes, resolveInRoot, textToBytes } from "../../lib/boot/box_file.ts";

function scratch(): string {
  const root = mkdtempSync(join(tmpdir(), "box-"));
  mkdirSync(join(root, "etc/default"), { recursive: true });
  return root;
}

describe("resolveInRoot()", () => {
  test("follows symlinks inside the root as chroot would: absolute targets start at the root, '..' stops there", () => {
    const root = scratch();
    try {
      writeFileSync(join(root, "etc/grub-real"), "x");
      symlinkSync("/etc/grub-real", join(root, "etc/default/grub")); // absolute: the root's /etc, not the host's
      expect(resolveInRoot(root, "/etc/default/grub")).toBe(join(root, "etc/grub-real"));
      symlinkSync("../../../../../../../../etc/grub-real", join(root, "etc/default/escape")); // cannot leave the root
      expect(resolveInRoot(root, "/etc/default/escape")).toBe(join(root, "etc/grub-real"));
      mkdirSync(join(root, "real/d"), { recursive: true });
      symlinkSync("/real", join(root, "etc/linkdir")); // a symlinked folder on the way
      expect(resolveInRoot(root, "/etc/linkdir/d/../d/new.cfg")).toBe(join(root, "real/d/new.cfg"));
      expect(resolveInRoot(root, "/missing/a/b")).toBe(join(root, "missing/a/b"));
      symlinkSync("loop2", join(root, "loop1"));
      symlinkSync("loop1", join(root, "loop2"));
      expect(() => resolveInRoot(root, "/loop1")).toThrow(KdumpError);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test("readBoxBytes() keeps every byte, and names the path when a directory stands where the file should be", () => {
    const root = scratch();
    try {
      const bytes = Uint8Array.from([0x23, 0x20, 0x63, 0x61, 0x66, 0xe9, 0x0a, 0x00, 0xff, 0xc3, 0xa9, 0x0d, 0x0a]);
      writeFileSync(join(root, "etc/default/grub"), bytes);
      const text = readBoxBytes(root, "/etc/default/grub")!;
      expect(text.length).toBe(bytes.length);
      expect(textToBytes(text).equals(Buffer.from(bytes))).toBe(true);
      expect(bytesToText(bytes)).toBe(text);
      expect(displayText(text).encoding).toBe("latin1");
      expect(displayText(bytesToText(Buffer.from("café\n"))).text).toBe("café\n");
      mkdirSync(join(root, "etc/kernel/cmdline"), { recursive: true });
      expect(() => readBoxBytes(root, "/etc/kernel/cmdline")).toThrow("/etc/kernel/cmdline is a directory, not a file setup can edit");
      expect(readBoxBytes(root, "/etc/absent")).toBeNull();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
