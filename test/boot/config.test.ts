import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_CONFIG, formatConfig, loadConfig, readConfig } from "../../lib/boot/config.ts";
import { readDebianKdumpTools } from "../../lib/boot/debian_kdump_tools.ts";
import { readFedoraKdumpConf } from "../../lib/boot/fedora_kdump_conf.ts";
import { ConfigSyntaxError } from "../../lib/boot/parse_error.ts";
import { kdumpToolsDefaults, sourced } from "./fixtures.ts";

function syntaxError(f: () => unknown): ConfigSyntaxError {
  try {
    f();
  } catch (e) {
    if (e instanceof ConfigSyntaxError) return e;
    throw e;
  }
  throw new Error("no error thrown");
}

describe("the toolkit's config file", () => {
  const custom = { ...structuredClone(DEFAULT_CONFIG), target: { kind: "ssh" as const, host: "kdump@vault", path: "/srv/crash" }, codec: "zstd" as const, dumpLevel: 17, cmdlineAdd: ["nr_cpus=2", "irqpoll"], keep: 3 };

  test("readConfig() reads back what formatConfig() writes, and the shell reads the same values", async () => {
    for (const c of [DEFAULT_CONFIG, custom]) {
      const text = formatConfig(c);
      const r = readConfig(text);
      expect(r.config).toEqual(c);
      expect(r.warnings).toEqual([]);
      const sh = await sourced([{ text }], ["KDUMP_TARGET", "KDUMP_CMDLINE_ADD", "KDUMP_CODEC"]);
      expect(sh).toEqual({ KDUMP_TARGET: c === custom ? "ssh:kdump@vault:/srv/crash" : "/var/crash", KDUMP_CMDLINE_ADD: c.cmdlineAdd.join(" "), KDUMP_CODEC: c.codec });
    }
  });

  test("readConfig() fills defaults, warns about unknown keys, and rejects a bad value at its line and column", () => {
    const r = readConfig("# mine\nKDUMP_DUMP_LEVEL=1\nKDUMP_TYPO=1\n");
    expect(r.config).toEqual({ ...DEFAULT_CONFIG, dumpLevel: 1 });
    expect(r.warnings).toEqual(["/etc/kdump/config:3: KDUMP_TYPO is not a setting of this toolkit: ignored"]);
    const e = syntaxError(() => readConfig("KDUMP_DUMP_LEVEL=1\n  KDUMP_CODEC=gzip\n"));
    expect(e.message).toStartWith("/etc/kdump/config:2:15: KDUMP_CODEC=gzip: expected none, zlib, lzo, snappy, zstd");
    expect(syntaxError(() => readConfig("KDUMP_TARGET=$HOME\n")).message).toStartWith("/etc/kdump/config:1:14: KDUMP_TARGET must be a plain value");
  });
});

// Fedora's kdump.conf is not in the Debian registry: this fixture is written by hand after the file kdump-utils
// installs (a commented template with one active core_collector line), plus the directives users add.
const FEDORA = `# This file contains a series of commands to perform (in order) in the kdump
# kernel after a kernel crash in the crash kernel(1st kernel) has happened.
#
# Directives in this file are only applicable to the kdump initramfs, and have
# no effect once the root filesystem is mounted and the normal init scripts are
# processed.
#
#raw /dev/vg/lv_kdump
#ext4 /dev/vg/lv_kdump
#nfs my.server.com:/export/tmp
#ssh user@my.server.com
#sshkey /root/.ssh/kdump_id_rsa
auto_reset_crashkernel yes
path /var/crash
core_collector makedumpfile -l --message-level 7 -d 31
#core_collector scp
#kdump_post /var/crash/scripts/kdump-post.sh
#failure_action shell
#final_action poweroff
`;

describe("readFedoraKdumpConf()", () => {
  test("reads the stock file: /var/crash, lzo, level 31, one warning for auto_reset_crashkernel", () => {
    const r = readFedoraKdumpConf(FEDORA);
    expect(r.config).toEqual({ ...DEFAULT_CONFIG, codec: "lzo", dumpLevel: 31 });
    expect(r.warnings).toEqual(["/etc/kdump.conf:13: auto_reset_crashkernel is not supported by this toolkit: ignored"]);
  });

  test("reads a remote setup: ssh with its key, zstd, level 17, actions, modules; one warning per unsupported directive", () => {
    const text = FEDORA.replace("#ssh user@my.server.com", "ssh kdump@vault.example")
      .replace("#sshkey /root/.ssh/kdump_id_rsa", "sshkey /root/.ssh/vault")
      .replace("path /var/crash", "path /srv/crash")
      .replace("-l --message-level 7 -d 31", "-z -d 17 -F")
      .replace("#failure_action shell", "failure_action shell")
      .replace("#final_action poweroff", "final_action poweroff\nextra_modules mlx5_core nvme\n#comment\ndracut_args --omit-drivers foo\next4 UUID=1234");
    const r = readFedoraKdumpConf(text);
    expect(r.config).toEqual({
      ...DEFAULT_CONFIG,
      target: { kind: "ssh", host: "kdump@vault.example", path: "/srv/crash" },
      sshKey: "/root/.ssh/vault",
      codec: "zstd",
      dumpLevel: 17,
      failureAction: "shell",
      finalAction: "poweroff",
      extraModules: ["mlx5_core", "nvme"],
    });
    expect(r.warnings.map((w) => w.replace(/: .*/, ""))).toEqual(["/etc/kdump.conf:13", "/etc/kdump.conf:22", "/etc/kdump.conf:23"]);
    expect(r.warnings[2]).toContain("dumping to a separately mounted filesystem is not supported");
  });

  test("puts path under the NFS export, and raw wins over path", () => {
    expect(readFedoraKdumpConf("nfs srv:/export/tmp\npath /crash\n").config.target).toEqual({ kind: "nfs", server: "srv", path: "/export/tmp/crash" });
    expect(readFedoraKdumpConf("raw /dev/vdb\npath /crash\n").config.target).toEqual({ kind: "raw", device: "/dev/vdb" });
  });

  test.each([
    ["core_collector makedumpfile -c -d x\n", "/etc/kdump.conf:1:35:", "-d takes a dump level"],
    ["path /x\nfailure_action explode\n", "/etc/kdump.conf:2:16:", "expected one of reboot"],
    ["nfs\n", "/etc/kdump.conf:1:4:", "a value expected"],
    ["  ssh vault\n", "/etc/kdump.conf:1:7:", "user@host expected"],
  ])("rejects %p at its line and column", (text, where, what) => {
    const e = syntaxError(() => readFedoraKdumpConf(text));
    expect(e.message).toStartWith(where);
    expect(e.message).toContain(what);
  });
});

describe("readDebianKdumpTools()", () => {
  test("reads the file kdump-tools ships: /var/crash, makedumpfile's -c -d 31, its append words, no warnings", async () => {
    const r = readDebianKdumpTools(await kdumpToolsDefaults());
    expect(r.config).toEqual({ ...DEFAULT_CONFIG, codec: "zlib", dumpLevel: 31, cmdlineAdd: ["reset_devices", "nr_cpus=1", "irqpoll", "usbcore.nousb"] });
    expect(r.warnings).toEqual([]);
  });

  test("reads a user's edits of it, warning about each variable it cannot use", async () => {
    const text = (await kdumpToolsDefaults())
      .replace('KDUMP_COREDIR="/var/crash"', 'KDUMP_COREDIR="/srv/dumps"')
      .replace('#MAKEDUMP_ARGS="-c -d 31"', 'MAKEDUMP_ARGS="-l -d 1 --cyclic-buffer 1024"')
      .replace("#KDUMP_NUM_DUMPS=", "KDUMP_NUM_DUMPS=4")
      .replace('#SSH="<user at server>"', 'SSH="kdump@vault"')
      .replace('#KDUMP_CMDLINE_APPEND="reset_devices systemd.unit=kdump-tools-dump.service nr_cpus=1 irqpoll usbcore.nousb"', 'KDUMP_CMDLINE_APPEND="nr_cpus=2 irqpoll"')
      .replace('#FTP="<server>:<path>"', 'FTP="ftp.example:/dumps"');
    const r = readDebianKdumpTools(text);
    expect(r.config).toEqual({ ...DEFAULT_CONFIG, target: { kind: "ssh", host: "kdump@vault", path: "/srv/dumps" }, codec: "lzo", dumpLevel: 1, keep: 4, cmdlineAdd: ["nr_cpus=2", "irqpoll"] });
    expect(r.warnings.length).toBe(2);
    expect(r.warnings[0]).toMatch(/^\/etc\/default\/kdump-tools:\d+: makedumpfile option --cyclic-buffer is not supported/);
    expect(r.warnings[1]).toMatch(/^\/etc\/default\/kdump-tools:\d+: FTP is not supported/);
  });

  test("rejects a bad NFS or KDUMP_NUM_DUMPS at its line and column", () => {
    expect(syntaxError(() => readDebianKdumpTools('X=1\nNFS="nfs-server"\n')).message).toStartWith("/etc/default/kdump-tools:2:5: NFS=nfs-server: server:/export expected");
    expect(syntaxError(() => readDebianKdumpTools("KDUMP_NUM_DUMPS=all\n")).message).toStartWith("/etc/default/kdump-tools:1:17:");
  });
});

describe("loadConfig()", () => {
  test("prefers /etc/kdump/config, then /etc/kdump.conf, then /etc/default/kdump-tools, then defaults", async () => {
    const root = mkdtempSync(join(tmpdir(), "config-"));
    try {
      expect(loadConfig(root)).toEqual({ config: DEFAULT_CONFIG, source: null, warnings: [] });
      mkdirSync(join(root, "etc/default"), { recursive: true });
      writeFileSync(join(root, "etc/default/kdump-tools"), await kdumpToolsDefaults());
      expect(loadConfig(root).source).toBe("/etc/default/kdump-tools");
      writeFileSync(join(root, "etc/kdump.conf"), FEDORA);
      expect(loadConfig(root).source).toBe("/etc/kdump.conf");
      mkdirSync(join(root, "etc/kdump"));
      writeFileSync(join(root, "etc/kdump/config"), "KDUMP_KEEP=2\n");
      expect(loadConfig(root)).toEqual({ config: { ...DEFAULT_CONFIG, keep: 2 }, source: "/etc/kdump/config", warnings: [] });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
