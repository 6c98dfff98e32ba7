import { describe, expect, test } from "bun:test";
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { debianGrubDefaults, grubSandbox, kdumpToolsGrubCfg } from "./fixtures.ts";

const KDUMP = join(import.meta.dir, "..", "..", "kdump.ts");

async function kdump(args: string[]) {
  const r = await Bun.$`${process.execPath} ${KDUMP} ${args}`.quiet().nothrow();
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString(), bytes: Buffer.from(r.stdout) };
}

// Each test starts `bun kdump.ts` a few times: 1-2 s each on a loaded 2-CPU machine, past Bun's 5 s default.
const CLI_TIMEOUT = 60000;

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
  }, CLI_TIMEOUT);

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
  }, CLI_TIMEOUT);

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
  }, CLI_TIMEOUT);
});

// Issue 18 (config-file half): each case is the failing one from the adversarial run.
describe("kdump setup edits bytes, inside the root, in linear time", () => {
  const latin1 = (s: string) => Buffer.from(s, "latin1");

  test("a Latin-1 byte stays the same byte (it became EF BF BD), and the --dry-run diff holds it as it is", async () => {
    const root = mkdtempSync(join(tmpdir(), "setup-latin1-"));
    try {
      mkdirSync(join(root, "etc/default"), { recursive: true });
      const before = latin1('# Réglages de démarrage (Latin-1)\nGRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX="quiet"\n# fin \xff\xfe\n');
      writeFileSync(join(root, "etc/default/grub"), before);
      const dry = await kdump(["setup", "--dry-run", "--root", root, "--size", "256M"]);
      expect(dry.code).toBe(0);
      expect(dry.bytes.includes(latin1("-GRUB_CMDLINE_LINUX=\"quiet\"\n+GRUB_CMDLINE_LINUX=\"quiet crashkernel=256M\"\n"))).toBe(true);
      expect(dry.bytes.includes(latin1(" # R\xe9glages de d\xe9marrage (Latin-1)\n"))).toBe(true); // a context line, byte for byte
      expect(dry.bytes.includes(Buffer.from([0xef, 0xbf, 0xbd]))).toBe(false);
      const diff = dry.bytes.subarray(dry.bytes.indexOf("--- a/"), dry.bytes.indexOf("dry run"));
      const r = await kdump(["setup", "--root", root, "--size", "256M"]);
      expect(r.code).toBe(0);
      const after = readFileSync(join(root, "etc/default/grub"));
      expect(after.equals(latin1('# Réglages de démarrage (Latin-1)\nGRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX="quiet crashkernel=256M"\n# fin \xff\xfe\n'))).toBe(true);
      expect(readFileSync(join(root, "etc/default/grub.kdump-bak")).equals(before)).toBe(true);
      // GNU patch applies the dry run's diff to the old bytes and gets exactly what setup wrote.
      const copy = mkdtempSync(join(tmpdir(), "setup-latin1-patch-"));
      mkdirSync(join(copy, "etc/default"), { recursive: true });
      writeFileSync(join(copy, "etc/default/grub"), before);
      writeFileSync(join(copy, "d.patch"), diff);
      expect((await Bun.$`cd ${copy} && patch -p1 --batch < d.patch`.quiet().nothrow()).exitCode).toBe(0);
      expect(readFileSync(join(copy, "etc/default/grub")).equals(after)).toBe(true);
      rmSync(copy, { recursive: true, force: true });
      const off = await kdump(["setup", "--root", root, "--remove"]);
      expect(off.code).toBe(0);
      expect(readFileSync(join(root, "etc/default/grub")).equals(before)).toBe(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, CLI_TIMEOUT);

  test("--root: an absolute symlink is followed inside the root, edited through, and stays a symlink", async () => {
    const root = mkdtempSync(join(tmpdir(), "setup-link-"));
    try {
      mkdirSync(join(root, "etc/default"), { recursive: true });
      mkdirSync(join(root, "srv/boot-config"), { recursive: true });
      writeFileSync(join(root, "srv/boot-config/grub"), 'GRUB_CMDLINE_LINUX="root-of-box"\n');
      // /srv on the host is not the box's: the link must resolve under --root (it read the host's file before).
      symlinkSync("/srv/boot-config/grub", join(root, "etc/default/grub"));
      const r = await kdump(["setup", "--root", root, "--size", "192M"]);
      expect([r.code, r.err]).toEqual([0, ""]);
      expect(r.out).toContain('+GRUB_CMDLINE_LINUX="root-of-box crashkernel=192M"');
      expect(lstatSync(join(root, "etc/default/grub")).isSymbolicLink()).toBe(true);
      expect(readlinkSync(join(root, "etc/default/grub"))).toBe("/srv/boot-config/grub");
      expect(readFileSync(join(root, "srv/boot-config/grub"), "utf8")).toBe('GRUB_CMDLINE_LINUX="root-of-box crashkernel=192M"\n');
      expect(readFileSync(join(root, "srv/boot-config/grub.kdump-bak"), "utf8")).toBe('GRUB_CMDLINE_LINUX="root-of-box"\n');
      expect(readdirSync(join(root, "etc/default"))).toEqual(["grub"]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, CLI_TIMEOUT);

  test("a directory where /etc/default/grub should be is one line that names the path; nothing is written", async () => {
    const root = mkdtempSync(join(tmpdir(), "setup-dir-"));
    try {
      mkdirSync(join(root, "etc/default/grub"), { recursive: true });
      const r = await kdump(["setup", "--root", root, "--size", "256M"]);
      expect(r.code).toBe(1);
      expect(r.err.trim().split("\n")).toEqual([expect.stringMatching(/^kdump: \/etc\/default\/grub is a directory, not a file setup can edit/)]);
      expect(readdirSync(join(root, "etc/default"))).toEqual(["grub"]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, CLI_TIMEOUT);

  test("crashkernel=auto (RHEL 8) is replaced with a note, in the BLS entries and /etc/default/grub", async () => {
    const root = mkdtempSync(join(tmpdir(), "setup-auto-"));
    try {
      mkdirSync(join(root, "etc/default"), { recursive: true });
      mkdirSync(join(root, "boot/loader/entries"), { recursive: true });
      writeFileSync(join(root, "etc/default/grub"), 'GRUB_CMDLINE_LINUX="crashkernel=auto resume=/dev/mapper/rhel-swap rhgb quiet"\nGRUB_ENABLE_BLSCFG=true\n');
      writeFileSync(join(root, "boot/loader/entries/abc-4.18.0-553.el8_10.x86_64.conf"), "title Red Hat Enterprise Linux (4.18.0-553.el8_10.x86_64) 8.10\nlinux /vmlinuz-4.18.0-553.el8_10.x86_64\noptions $kernelopts crashkernel=auto\n");
      const r = await kdump(["setup", "--root", root, "--size", "256M"]);
      expect([r.code, r.err]).toEqual([0, ""]);
      expect(r.out).toContain("note: crashkernel=auto in /etc/default/grub, /boot/loader/entries/abc-4.18.0-553.el8_10.x86_64.conf is RHEL 7/8's legacy value");
      expect(readFileSync(join(root, "etc/default/grub"), "utf8")).toStartWith('GRUB_CMDLINE_LINUX="crashkernel=256M resume=/dev/mapper/rhel-swap rhgb quiet"\n');
      expect(readFileSync(join(root, "boot/loader/entries/abc-4.18.0-553.el8_10.x86_64.conf"), "utf8")).toContain("options $kernelopts crashkernel=256M\n");
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, CLI_TIMEOUT);

  test("150,000 assignments plan, diff and write in linear time (16k took 46 s and 1.2 GB)", async () => {
    const root = mkdtempSync(join(tmpdir(), "setup-big-"));
    try {
      mkdirSync(join(root, "etc/default"), { recursive: true });
      const lines = ['GRUB_CMDLINE_LINUX="quiet"'];
      for (let i = 0; i < 150_000; i++) lines.push(i % 3 === 0 ? `GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT x${i} crashkernel=128M"` : `KDUMP_VAR_${i}='v ${i}'`);
      const before = `${lines.join("\n")}\n`;
      writeFileSync(join(root, "etc/default/grub"), before);
      const t0 = performance.now();
      const r = await kdump(["setup", "--root", root, "--size", "256M"]);
      const seconds = (performance.now() - t0) / 1000;
      expect([r.code, r.err]).toEqual([0, ""]);
      const after = readFileSync(join(root, "etc/default/grub"), "utf8");
      expect(after.split("\n")[0]).toBe('GRUB_CMDLINE_LINUX="quiet crashkernel=256M"');
      expect(after.match(/crashkernel=/g)!.length).toBe(1);
      expect(after.length).toBe(before.length - 50_000 * " crashkernel=128M".length + " crashkernel=256M".length);
      console.log(`setup on 150,000 lines (${(before.length / 2 ** 20).toFixed(1)} MiB): ${seconds.toFixed(2)} s`);
      expect(seconds).toBeLessThan(30); // ~2 s here; generous for a loaded machine
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 120000);
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
