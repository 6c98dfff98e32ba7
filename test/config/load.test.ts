import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { hooks, loadConfig, rootFs } from "../../lib/config/load.ts";
import { checkSupported, unsupported } from "../../lib/config/supported.ts";
import { configReport, formatConfigReport } from "../../lib/config/format.ts";
import { DEFAULT_SETTINGS } from "../../lib/config/settings.ts";
import { configError } from "./_errors.ts";

let root: string;
beforeEach(() => (root = mkdtempSync(join(tmpdir(), "config-"))));
afterEach(() => rmSync(root, { recursive: true, force: true }));
const put = (path: string, text: string, mode = 0o644) => {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
  chmodSync(join(root, path), mode);
};

describe("loadConfig()", () => {
  test("with no file, every setting is the default and comes from nowhere", () => {
    const c = loadConfig(rootFs(root));
    expect(c.settings).toEqual(DEFAULT_SETTINGS);
    expect(c.sources).toEqual([]);
    expect(c.origins).toEqual({});
  });

  test("merges kdump-tools, sysconfig and kdump.conf; kdump.conf wins a conflict and the conflict names both files", () => {
    put("/etc/default/kdump-tools", 'KDUMP_COREDIR="/srv/a"\nKDUMP_NUM_DUMPS=2\nKDUMP_CMDLINE_APPEND="nr_cpus=2"\n');
    put("/etc/sysconfig/kdump", 'KDUMP_COMMANDLINE_APPEND="irqpoll"\n');
    put("/etc/kdump.conf", "# mine\npath /srv/b\n");
    const c = loadConfig(rootFs(root));
    expect(c.sources).toEqual(["/etc/default/kdump-tools", "/etc/sysconfig/kdump", "/etc/kdump.conf"]);
    expect(c.settings).toMatchObject({ target: { kind: "dir", path: "/srv/b" }, keep: 2, cmdlineAppend: ["irqpoll"] });
    expect(c.origins.keep).toEqual({ file: "/etc/default/kdump-tools", line: 2 });
    const byKey = Object.fromEntries(c.conflicts.map((x) => [x.key, x]));
    expect(byKey.target).toEqual({ key: "target", winner: { file: "/etc/kdump.conf", line: 2 }, overridden: [{ file: "/etc/default/kdump-tools", line: 1, value: { kind: "dir", path: "/srv/a" } }] });
    expect(byKey.cmdlineAppend!.winner).toEqual({ file: "/etc/sysconfig/kdump", line: 1 });
  });

  test("runs the executables of pre.d and post.d in lexical order before kdump_pre and kdump_post; notes the rest", () => {
    put("/etc/kdump.conf", "kdump_pre /usr/local/sbin/pre\nkdump_post /usr/local/sbin/post\n");
    put("/etc/kdump/pre.d/20-b", "#!/bin/sh\n", 0o755);
    put("/etc/kdump/pre.d/10-a", "#!/bin/sh\n", 0o700);
    put("/etc/kdump/pre.d/README", "not a hook\n");
    put("/etc/kdump/post.d/50-x", "#!/bin/sh\n", 0o755);
    const c = loadConfig(rootFs(root));
    expect(hooks(c)).toEqual({ pre: ["/etc/kdump/pre.d/10-a", "/etc/kdump/pre.d/20-b", "/usr/local/sbin/pre"], post: ["/etc/kdump/post.d/50-x", "/usr/local/sbin/post"] });
    expect(c.notes).toEqual([{ file: "/etc/kdump/pre.d/README", line: 0, text: "not an executable file: it does not run" }]);
    expect(c.origins.preD).toEqual({ file: "/etc/kdump/pre.d", line: 0 });
  });

  test("the toolkit's former /etc/kdump/config is not read, and a note says so", () => {
    put("/etc/kdump/config", "KDUMP_KEEP=2\n");
    const c = loadConfig(rootFs(root));
    expect(c.settings.keep).toBe(0);
    expect(c.notes[0]!.text).toContain("no longer reads this file");
  });

  test("a bad file stops with its file and line", () => {
    put("/etc/kdump.conf", "path /var/crash\ncore_collector makedumpfile --nope\n");
    expect(configError(() => loadConfig(rootFs(root))).summary()).toStartWith("/etc/kdump.conf:2: core_collector: makedumpfile option --nope is not supported: ");
  });
});

describe("checkSupported()", () => {
  test("passes a directory on the root filesystem", () => {
    put("/etc/kdump.conf", "path /var/crash/x\n");
    expect(() => checkSupported(loadConfig(rootFs(root)), () => true)).not.toThrow();
  });

  test.each([
    ["/etc/default/kdump-tools", "HOSTTAG=ip\n", "/etc/default/kdump-tools:1: HOSTTAG=ip is not supported yet"],
  ])("refuses what %s says in %p with the directive's file and line", (file, text, message) => {
    put(file, text);
    expect(configError(() => checkSupported(loadConfig(rootFs(root)))).summary()).toStartWith(message);
  });

  test.each(["path /x\nnfs srv:/e\n", "ssh a@b\n"])("accepts the network target of %p (the capture brings up the network)", (text) => {
    put("/etc/kdump.conf", text);
    expect(() => checkSupported(loadConfig(rootFs(root)))).not.toThrow();
  });

  test("refuses a directory on a filesystem the capture cannot mount when told which those are", () => {
    put("/etc/default/kdump-tools", "KDUMP_COREDIR=/mnt/dumps\n");
    const c = loadConfig(rootFs(root));
    expect(unsupported(c, (p) => !p.startsWith("/mnt")).map((e) => e.message)).toEqual(["/etc/default/kdump-tools:1: dump target /mnt/dumps is on a filesystem with no block device (the capture mounts the root and disks only): not supported yet"]);
  });

  test("passes xfs and btrfs targets by UUID= and LABEL= (their own disk)", () => {
    put("/etc/kdump.conf", "xfs UUID=0b1c2d3e-0000-4000-8000-000000000001\npath /dumps\n");
    expect(unsupported(loadConfig(rootFs(root)))).toEqual([]);
    put("/etc/kdump.conf", "btrfs LABEL=crash\n");
    expect(unsupported(loadConfig(rootFs(root)))).toEqual([]);
  });
});

describe("configReport()", () => {
  test("names the file and line of each value, the conflict's winner, notes and what is not supported", () => {
    put("/etc/default/kdump-tools", "KDUMP_NUM_DUMPS=3\n");
    put("/etc/kdump.conf", "path /var/crash/x\ncore_collector makedumpfile -c -d 1 --message-level 7\nfinal_action poweroff\nfinal_action halt\n");
    const r = configReport(loadConfig(rootFs(root)));
    expect(r.settings.dumpLevel).toEqual({ value: 1, from: "/etc/kdump.conf:2", file: "/etc/kdump.conf", line: 2 });
    expect(r.settings.keep).toEqual({ value: 3, from: "/etc/default/kdump-tools:1", file: "/etc/default/kdump-tools", line: 1 });
    expect(r.settings.failureAction).toEqual({ value: "reboot", from: "default", file: null, line: null });
    expect(r.conflicts).toContainEqual({ key: "finalAction", winner: "/etc/kdump.conf:4", overridden: [{ from: "/etc/kdump.conf:3", value: "poweroff" }] });
    // kdump-tools' own default (MAKEDUMP_ARGS unset: -c -d 31) loses to kdump.conf's core_collector
    expect(r.conflicts).toContainEqual({ key: "dumpLevel", winner: "/etc/kdump.conf:2", overridden: [{ from: "/etc/default/kdump-tools (default)", value: 31 }] });
    const text = formatConfigReport(r);
    expect(text).toMatch(/^dumpLevel +1 +\/etc\/kdump\.conf:2$/m);
    expect(text).toMatch(/^target +\/var\/crash\/x +\/etc\/kdump\.conf:1$/m);
    expect(text).toContain("conflict: finalAction from /etc/kdump.conf:4 wins over /etc/kdump.conf:3 (poweroff)");
    expect(text).toContain("note: /etc/kdump.conf:2: core_collector: makedumpfile option --message-level 7");
  });
});
