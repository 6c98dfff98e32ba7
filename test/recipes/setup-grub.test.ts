import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { debianGrubDefaults, grubSandbox, kdumpToolsGrubCfg } from "../boot/fixtures.ts";

// Tests that run sh, patch or bun, or fetch Debian's packages on first use (apt-get download): slower than Bun's
// 5 s default on a loaded 2-CPU machine.
const SLOW = 60000;

const KDUMP = join(import.meta.dir, "..", "..", "kdump.ts");
const RECIPE = join(import.meta.dir, "..", "..", "recipes", "setup-grub.ts");

describe("recipes/setup-grub.ts", () => {
  test("--dry-run against a scratch root prints the diff and what would run, and writes nothing", async () => {
    const root = mkdtempSync(join(tmpdir(), "recipe-"));
    try {
      mkdirSync(join(root, "etc/default/grub.d"), { recursive: true });
      mkdirSync(join(root, "usr/sbin"), { recursive: true });
      writeFileSync(join(root, "usr/sbin/update-grub"), "");
      writeFileSync(join(root, "etc/default/grub"), await debianGrubDefaults());
      writeFileSync(join(root, "etc/default/grub.d/kdump-tools.cfg"), await kdumpToolsGrubCfg());
      const r = await Bun.$`${process.execPath} ${KDUMP} ${RECIPE} --dry-run --size 192M --root ${root}`.quiet().nothrow();
      expect(r.exitCode).toBe(0);
      const out = r.stdout.toString();
      expect(out).toContain("boot loader: grub (/etc/default/grub exists)");
      expect(out).toContain('+GRUB_CMDLINE_LINUX="crashkernel=192M"');
      expect(out).toContain(`would run: chroot ${root} update-grub`);
      expect(out).toContain("dry run: nothing was written");
      expect(readFileSync(join(root, "etc/default/grub"), "utf8")).toBe(await debianGrubDefaults());
      expect(readdirSync(join(root, "etc/default")).sort()).toEqual(["grub", "grub.d"]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, SLOW);

  // Mount namespaces need root; CI runs as root.
  test.skipIf(process.getuid?.() !== 0)("edits, runs update-grub in the chroot with the command printed first, and every linux line has crashkernel=", async () => {
    const box = await grubSandbox();
    try {
      const r = await box.run(`"${process.execPath}" "${KDUMP}" "${RECIPE}" --size 192M --root ${box.root}`);
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toContain("wrote /etc/default/grub");
      expect(r.stderr + r.stdout).toContain(`chroot ${box.root} update-grub`);
      expect(r.stdout).toContain(`done: boot the system at ${box.root} to use it`);
      expect(box.linuxLines().length).toBe(5);
      for (const l of box.linuxLines()) expect(l.match(/crashkernel=\S+/g)).toEqual(["crashkernel=192M"]);
      expect(readFileSync(join(box.dir, "etc/default/grub.kdump-bak"), "utf8")).toBe(await debianGrubDefaults());
    } finally {
      await box.cleanup();
    }
  }, 60000);
});
