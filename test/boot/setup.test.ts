import { describe, expect, test } from "bun:test";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { debianGrubDefaults, grubSandbox, kdumpToolsGrubCfg } from "./fixtures.ts";

const KDUMP = join(import.meta.dir, "..", "..", "kdump.ts");

async function kdump(args: string[]) {
  const r = await Bun.$`${process.execPath} ${KDUMP} ${args}`.quiet().nothrow();
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

/** A scratch Debian-like root: the shipped /etc/default/grub template and kdump-tools' drop-in. */
async function scratchRoot(): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), "setup-root-"));
  mkdirSync(join(root, "etc/default/grub.d"), { recursive: true });
  writeFileSync(join(root, "etc/default/grub"), await debianGrubDefaults());
  writeFileSync(join(root, "etc/default/grub.d/kdump-tools.cfg"), await kdumpToolsGrubCfg());
  return root;
}

describe("kdump setup on a scratch root", () => {
  test("--dry-run prints the diff GNU patch applies, and writes nothing", async () => {
    const root = await scratchRoot();
    try {
      const before = readFileSync(join(root, "etc/default/grub"), "utf8");
      const r = await kdump(["setup", "--dry-run", "--root", root, "--size", "256M"]);
      expect(r.code).toBe(0);
      expect(r.out).toContain("boot loader: grub (/etc/default/grub exists)");
      expect(r.out).toContain('+GRUB_CMDLINE_LINUX="crashkernel=256M"');
      expect(r.out).toContain('-GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT crashkernel=384M-:128M"');
      expect(r.out).toContain("dry run: nothing written");
      expect(readFileSync(join(root, "etc/default/grub"), "utf8")).toBe(before);
      const diff = r.out.slice(r.out.indexOf("--- a/"), r.out.lastIndexOf("\n", r.out.indexOf("dry run")) + 1).replace(/^(would run|note):.*\n/gm, "");
      const copy = mkdtempSync(join(tmpdir(), "setup-patch-"));
      cpSync(root, copy, { recursive: true });
      writeFileSync(join(copy, "d.patch"), diff);
      const p = await Bun.$`cd ${copy} && patch -p1 --batch < d.patch`.quiet().nothrow();
      expect(p.exitCode).toBe(0);
      expect(readFileSync(join(copy, "etc/default/grub"), "utf8")).toContain('GRUB_CMDLINE_LINUX="crashkernel=256M"');
      rmSync(copy, { recursive: true, force: true });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test("--json gives the plan as data; a bad --size is one line naming the column, exit 1", async () => {
    const root = await scratchRoot();
    try {
      const j = await kdump(["setup", "--dry-run", "--json", "--root", root, "--size", "2G-:192M"]);
      expect(j.code).toBe(0);
      const data = JSON.parse(j.out);
      expect(data.value).toEqual(["2G-:192M"]);
      expect(data.plan.preview.map((c: { path: string }) => c.path)).toEqual(["/etc/default/grub", "/etc/default/grub.d/kdump-tools.cfg"]);
      const bad = await kdump(["setup", "--dry-run", "--root", root, "--size", "2G-64G;256M,64G-:1G"]);
      expect(bad.code).toBe(1);
      expect(bad.err.trim().split("\n")).toEqual([expect.stringMatching(/^kdump: --size:1:7: crashkernel=2G-64G;256M,64G-:1G: ":" expected/)]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test("a malformed defaults file stops setup with file, line and column; nothing is written", async () => {
    const root = await scratchRoot();
    try {
      writeFileSync(join(root, "etc/default/grub.d/broken.cfg"), 'X=1\nGRUB_CMDLINE_LINUX_DEFAULT="quiet\n');
      const before = readFileSync(join(root, "etc/default/grub"), "utf8");
      const r = await kdump(["setup", "--root", root, "--size", "256M"]);
      expect(r.code).toBe(1);
      expect(r.err).toStartWith("kdump: /etc/default/grub.d/broken.cfg:2:28: unterminated");
      expect(readFileSync(join(root, "etc/default/grub"), "utf8")).toBe(before);
      expect(existsSync(join(root, "etc/default/grub.kdump-bak"))).toBe(false);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe.skipIf(process.getuid?.() !== 0)("kdump setup with Debian's real GRUB tooling", () => {
  // Mount namespaces need root; CI runs as root. See grubSandbox() for what the chroot holds.
  test("update-grub puts crashkernel= on every menu entry's linux line, and --remove takes it off", async () => {
    const box = await grubSandbox();
    try {
      const setup = (args: string) => box.run(`"${process.execPath}" "${KDUMP}" setup --root ${box.root} ${args}`);
      const on = await setup("--size 256M");
      expect(on.stderr).toContain("Found linux image: /boot/vmlinuz-6.12.117+deb12-cloud-amd64"); // update-grub's own report
      expect(on.exitCode).toBe(0);
      expect(on.stdout).toContain(`+ chroot ${box.root} update-grub`);
      expect(on.stdout).toContain("reboot needed: the boot loader now passes crashkernel=256M");
      const lines = box.linuxLines();
      expect(lines.length).toBe(5); // the default entry, and normal + recovery for each of the two kernels
      for (const l of lines) expect(l.match(/crashkernel=\S+/g)).toEqual(["crashkernel=256M"]);
      expect(lines.filter((l) => /\bsingle\b/.test(l)).length).toBe(2); // recovery entries have it too

      const again = await setup("--size 256M");
      expect(again.exitCode).toBe(0);
      expect(again.stdout).not.toContain("update-grub");
      expect(again.stdout).toContain("already passes crashkernel=256M: nothing to change");

      const off = await setup("--remove");
      expect(off.exitCode).toBe(0);
      expect(box.linuxLines().length).toBe(5);
      for (const l of box.linuxLines()) expect(l).not.toContain("crashkernel=");
      expect(readFileSync(join(box.dir, "etc/default/grub"), "utf8")).toBe(await debianGrubDefaults());
    } finally {
      await box.cleanup();
    }
  }, 60000);
});
