import { describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseCrashkernel } from "../../lib/boot/crashkernel.ts";
import { applyChanges } from "../../lib/boot/file_change.ts";
import { type GrubFile, grubCrashkernel, planGrubDefaults } from "../../lib/boot/grub.ts";
import { ConfigSyntaxError } from "../../lib/boot/parse_error.ts";
import { KdumpError } from "../../lib/errors.ts";
import { debianGrubDefaults, kdumpToolsGrubCfg, sourced } from "./fixtures.ts";

// Tests that run sh, patch or bun, or fetch Debian's packages on first use (apt-get download): slower than Bun's
// 5 s default on a loaded 2-CPU machine.
const SLOW = 60000;

const V256 = [parseCrashkernel("256M")];
const VARS = ["GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT"];
const main = (text: string): GrubFile => ({ path: "/etc/default/grub", text });
const dropin = (name: string, text: string): GrubFile => ({ path: `/etc/default/grub.d/${name}`, text });

/** The files after applying a plan (unchanged files as they were). */
function after(files: GrubFile[], args = V256): GrubFile[] {
  const changes = planGrubDefaults(files, args);
  return files.map((f) => ({ ...f, text: changes.find((c) => c.path === f.path)?.after ?? f.text }));
}

/**
 * The shell is the oracle of what grub-mkconfig sees: after the edit, GRUB_CMDLINE_LINUX (every menu entry) holds
 * crashkernel=256M exactly once, GRUB_CMDLINE_LINUX_DEFAULT holds none, and every other word is what it was.
 */
async function expectEdited(files: GrubFile[]) {
  const before = await sourced(files, VARS);
  const now = await sourced(after(files), VARS);
  const others = (v: string) => v.split(/\s+/).filter((w) => w && !w.startsWith("crashkernel="));
  expect(now.GRUB_CMDLINE_LINUX!.split(/\s+/).filter((w) => w.startsWith("crashkernel="))).toEqual(["crashkernel=256M"]);
  expect(now.GRUB_CMDLINE_LINUX_DEFAULT).not.toContain("crashkernel=");
  expect(others(now.GRUB_CMDLINE_LINUX!)).toEqual(others(before.GRUB_CMDLINE_LINUX!));
  expect(others(now.GRUB_CMDLINE_LINUX_DEFAULT!)).toEqual(others(before.GRUB_CMDLINE_LINUX_DEFAULT!));
  expect(planGrubDefaults(after(files), V256)).toEqual([]); // idempotent: a second run changes nothing
}

describe("planGrubDefaults() on Debian's shipped files", () => {
  test("puts crashkernel= into the empty GRUB_CMDLINE_LINUX of grub2-common's template, one line changed", async () => {
    const files = [main(await debianGrubDefaults())];
    await expectEdited(files);
    const [c] = planGrubDefaults(files, V256);
    const changed = c!.after.split("\n").filter((l, i) => l !== c!.before!.split("\n")[i]);
    expect(changed).toEqual(['GRUB_CMDLINE_LINUX="crashkernel=256M"']);
  }, SLOW);

  test("--remove gives back the template byte for byte", async () => {
    const template = await debianGrubDefaults();
    const set = after([main(template)]);
    expect(after(set, [])[0]!.text).toBe(template);
  }, SLOW);

  test("takes kdump-tools' 384M-:128M out of its grub.d drop-in, which would otherwise win", async () => {
    const files = [main(await debianGrubDefaults()), dropin("kdump-tools.cfg", await kdumpToolsGrubCfg())];
    expect(grubCrashkernel(files).map((w) => [w.path, w.variable])).toEqual([["/etc/default/grub.d/kdump-tools.cfg", "GRUB_CMDLINE_LINUX_DEFAULT"]]);
    await expectEdited(files);
    expect(after(files)[1]!.text).toBe('GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT"\n');
    expect(grubCrashkernel(after(files)).map((w) => [w.path, w.variable, w.line])).toEqual([["/etc/default/grub", "GRUB_CMDLINE_LINUX", 10]]);
  }, SLOW);
});

describe("planGrubDefaults() on hostile files", () => {
  test.each([
    ["no GRUB_CMDLINE_LINUX line", 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_TIMEOUT=5\n'],
    ["no line and no final newline", "GRUB_DEFAULT=0"],
    ["single quotes", "GRUB_CMDLINE_LINUX='console=ttyS0,115200 quiet'\n"],
    ["double quotes with escapes", 'GRUB_CMDLINE_LINUX="acpi_osi=\\"Windows 2015\\" crashkernel=128M quiet"\n'],
    ["an unquoted value", "GRUB_CMDLINE_LINUX=quiet\n"],
    ["an existing range list in both variables", 'GRUB_CMDLINE_LINUX="crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M ro"\nGRUB_CMDLINE_LINUX_DEFAULT="quiet crashkernel=384M-:128M"\n'],
    ["a commented-out crashkernel line", '#GRUB_CMDLINE_LINUX="crashkernel=64M"\nGRUB_CMDLINE_LINUX="" # no crashkernel here\n'],
    ["an export and a later self-append", 'export GRUB_CMDLINE_LINUX="a"\nGRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX b crashkernel=1G,high crashkernel=256M,low"\n'],
    ["CRLF line ends", 'GRUB_DEFAULT=0\r\nGRUB_CMDLINE_LINUX="quiet"\r\nGRUB_TIMEOUT=5\r\n'],
  ])("keeps the meaning with %s", async (_name, text) => {
    await expectEdited([main(text)]);
  }, SLOW);

  test("keeps CRLF line ends, also on a line it adds", () => {
    for (const text of ['A=1\r\nGRUB_CMDLINE_LINUX="quiet"\r\n', "A=1\r\nB=2\r\n"]) {
      const out = after([main(text)])[0]!.text;
      expect(out.replaceAll("\r\n", "")).not.toContain("\n");
      expect(out).toContain("crashkernel=256M");
    }
  });

  test("adds the missing line after GRUB_CMDLINE_LINUX_DEFAULT", () => {
    expect(after([main('A=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\nB=1\n')])[0]!.text).toBe('A=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX="crashkernel=256M"\nB=1\n');
  });

  test("edits the drop-in that resets GRUB_CMDLINE_LINUX last, since it wins", async () => {
    const files = [main('GRUB_CMDLINE_LINUX="ro"\n'), dropin("50-cloudimg.cfg", 'GRUB_CMDLINE_LINUX="console=ttyS0"\n')];
    await expectEdited(files);
    expect(planGrubDefaults(files, V256).map((c) => c.path)).toEqual(["/etc/default/grub.d/50-cloudimg.cfg"]);
  }, SLOW);

  test.each([
    ['A=1\nGRUB_CMDLINE_LINUX="quiet\n', "/etc/default/grub:2:20:", "unterminated"],
    ['GRUB_CMDLINE_LINUX="quiet crashkernel=2G-64G;256M,64G-:512M"\n', "/etc/default/grub:1:45:", '":" expected'],
    ["GRUB_CMDLINE_LINUX=a\\ crashkernel=1M\n", "/etc/default/grub:1:20:", "mixes quoting"],
    ["GRUB_CMDLINE_LINUX=\"quiet\"'crashkernel=1M'\n", "/etc/default/grub:1:20:", "mixes quoting"], // glued: the word is quietcrashkernel=1M
  ])("refuses a malformed file with its line and column: %p", (text, where, what) => {
    let err: unknown;
    try {
      planGrubDefaults([main(text)], V256);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigSyntaxError);
    expect((err as Error).message).toStartWith(where);
    expect((err as Error).message).toContain(what);
  });

  // The fuzzer's cases (test/boot/fuzz_config.ts): a value of several pieces is edited piece by piece, idempotently.
  test.each([
    ["GRUB_CMDLINE_LINUX=a\\ b\n", 'GRUB_CMDLINE_LINUX=a\\ b" crashkernel=256M"\n'],
    ["GRUB_CMDLINE_LINUX=\"console=ttyS0\"'quiet'\n", "GRUB_CMDLINE_LINUX=\"console=ttyS0\"'quiet'\" crashkernel=256M\"\n"],
    ["GRUB_CMDLINE_LINUX=\"a \"'crashkernel=1M b'\n", "GRUB_CMDLINE_LINUX=\"a \"'crashkernel=256M b'\n"],
  ])("edits a value of several pieces and a second run changes nothing: %p", async (before, after) => {
    const [c] = planGrubDefaults([main(before)], V256);
    expect(c!.after).toBe(after);
    expect(planGrubDefaults([main(after)], V256)).toEqual([]);
    const [off] = planGrubDefaults([main(after)], []);
    expect((await sourced([{ text: off!.after }], ["GRUB_CMDLINE_LINUX"])).GRUB_CMDLINE_LINUX).toBe((await sourced([{ text: before }], ["GRUB_CMDLINE_LINUX"])).GRUB_CMDLINE_LINUX!.replace(/ ?crashkernel=1M/, ""));
  }, SLOW);

  // The fuzzer's seed 540: with only `GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX nomodeset"`, a new fresh line after it
  // dropped nomodeset from every menu entry. The words go into the assignment that adds.
  test("puts the words into the last assignment that adds to GRUB_CMDLINE_LINUX when none sets it afresh", async () => {
    const before = 'GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX nomodeset"\n# x\n';
    const [c] = planGrubDefaults([main(before)], V256);
    expect(c!.after).toBe('GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX nomodeset crashkernel=256M"\n# x\n');
    expect((await sourced([{ text: c!.after }], ["GRUB_CMDLINE_LINUX"])).GRUB_CMDLINE_LINUX).toBe(" nomodeset crashkernel=256M");
    expect(planGrubDefaults([main(c!.after)], V256)).toEqual([]);
    expect(planGrubDefaults([main(c!.after)], [])[0]!.after).toBe(before);
  }, SLOW);

  test("applyChanges() refuses a read-only file and changes nothing, the other file included", () => {
    const dir = mkdtempSync(join(tmpdir(), "grub-ro-"));
    try {
      mkdirSync(join(dir, "etc/default/grub.d"), { recursive: true });
      const a = 'GRUB_CMDLINE_LINUX="crashkernel=128M"\n';
      const b = 'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT crashkernel=384M-:128M"\n';
      writeFileSync(join(dir, "etc/default/grub"), a);
      writeFileSync(join(dir, "etc/default/grub.d/kdump-tools.cfg"), b);
      chmodSync(join(dir, "etc/default/grub.d/kdump-tools.cfg"), 0o444);
      const changes = planGrubDefaults([main(a), dropin("kdump-tools.cfg", b)], V256);
      expect(changes.length).toBe(2);
      expect(() => applyChanges(changes, dir)).toThrow(KdumpError);
      expect(() => applyChanges(changes, dir)).toThrow("/etc/default/grub.d/kdump-tools.cfg is read-only (mode 0444)");
      expect(readFileSync(join(dir, "etc/default/grub"), "utf8")).toBe(a);
      expect(readFileSync(join(dir, "etc/default/grub.d/kdump-tools.cfg"), "utf8")).toBe(b);
      expect(readdirSync(join(dir, "etc/default")).sort()).toEqual(["grub", "grub.d"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("applyChanges() keeps the old file as FILE.kdump-bak, its mode, and leaves no temporary file", () => {
    const dir = mkdtempSync(join(tmpdir(), "grub-rw-"));
    try {
      mkdirSync(join(dir, "etc/default"), { recursive: true });
      writeFileSync(join(dir, "etc/default/grub"), "GRUB_TIMEOUT=5\n", { mode: 0o640 });
      chmodSync(join(dir, "etc/default/grub"), 0o640);
      applyChanges(planGrubDefaults([main("GRUB_TIMEOUT=5\n")], V256), dir);
      expect(readFileSync(join(dir, "etc/default/grub"), "utf8")).toBe('GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX="crashkernel=256M"\n');
      expect(readFileSync(join(dir, "etc/default/grub.kdump-bak"), "utf8")).toBe("GRUB_TIMEOUT=5\n");
      expect((statSync(join(dir, "etc/default/grub")).mode & 0o777).toString(8)).toBe("640");
      expect(readdirSync(join(dir, "etc/default")).sort()).toEqual(["grub", "grub.kdump-bak"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
