import { describe, expect, test } from "bun:test";
import { readKdumpConf } from "../../lib/config/kdump_conf.ts";
import { merge } from "../../lib/config/settings.ts";
import { configError } from "./_errors.ts";

// Fedora's kdump.conf is not in the Debian registry: this fixture is written by hand after the file kdump-utils
// installs (a commented template with one active core_collector line and auto_reset_crashkernel).
export const FEDORA = `# This file contains a series of commands to perform (in order) in the kdump
# kernel after a kernel crash in the crash kernel(1st kernel) has happened.
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

const settings = (text: string) => merge([readKdumpConf(text)]);

describe("readKdumpConf()", () => {
  test("reads the stock file: /var/crash, lzo, level 31, auto_reset_crashkernel, with the line of each", () => {
    const c = settings(FEDORA);
    expect(c.settings).toMatchObject({ target: { kind: "dir", path: "/var/crash" }, codec: "lzo", dumpLevel: 31, format: "kdump", autoResetCrashkernel: true });
    expect(c.origins).toMatchObject({ target: { file: "/etc/kdump.conf", line: 10 }, codec: { line: 11 }, dumpLevel: { line: 11 }, autoResetCrashkernel: { line: 9 } });
    expect(c.notes.map((n) => n.text)).toEqual([expect.stringContaining("--message-level 7 tunes makedumpfile itself")]);
  });

  test("reads every directive of kdump.conf(5) into its setting", () => {
    const c = settings(`path /var/crash/x
core_collector makedumpfile -c -d 1 --num-threads 2
kdump_pre /usr/local/sbin/pre.sh
kdump_post /usr/local/sbin/post.sh
extra_bins /usr/bin/lsblk /usr/bin/ip
extra_modules nvme mlx5_core
failure_action shell
final_action poweroff
force_rebuild 1
auto_reset_crashkernel no
sshkey /root/.ssh/vault
`);
    expect(c.settings).toMatchObject({
      target: { kind: "dir", path: "/var/crash/x" },
      codec: "zlib",
      dumpLevel: 1,
      threads: 2,
      kdumpPre: "/usr/local/sbin/pre.sh",
      kdumpPost: "/usr/local/sbin/post.sh",
      extraBins: ["/usr/bin/lsblk", "/usr/bin/ip"],
      extraModules: ["nvme", "mlx5_core"],
      failureAction: "shell",
      finalAction: "poweroff",
      rebuild: "always",
      autoResetCrashkernel: false,
      sshKey: "/root/.ssh/vault",
    });
    expect(c.origins.finalAction).toEqual({ file: "/etc/kdump.conf", line: 8 });
    expect(c.notes.map((n) => n.line)).toEqual([5]); // extra_bins: nothing to pack
  });

  test.each([
    ["ext4 UUID=0b7a-11\npath /dumps\n", { kind: "device", spec: "UUID=0b7a-11", sub: "/dumps", fstype: "ext4" }, 1],
    ["xfs LABEL=crash\n", { kind: "device", spec: "LABEL=crash", sub: "/var/crash", fstype: "xfs" }, 1],
    ["path /x\nbtrfs /dev/vdb1\n", { kind: "device", spec: "/dev/vdb1", sub: "/x", fstype: "btrfs" }, 2],
    ["raw /dev/vdb\npath /crash\n", { kind: "raw", device: "/dev/vdb" }, 1],
    ["nfs srv:/export/tmp\npath /crash\n", { kind: "nfs", server: "srv", export: "/export/tmp", sub: "/crash" }, 1],
    ["path /srv/crash\nssh kdump@vault.example\n", { kind: "ssh", dest: "kdump@vault.example", port: null, path: "/srv/crash" }, 2],
  ])("reads the target of %p, from the target directive's line", (text, target, line) => {
    const c = settings(text);
    expect(c.settings.target).toEqual(target as never);
    expect(c.origins.target?.line).toBe(line);
  });

  test("reads default as failure_action, with a note, and force_no_rebuild", () => {
    const c = settings("default halt\nforce_no_rebuild 1\n");
    expect(c.settings.failureAction).toBe("halt");
    expect(c.settings.rebuild).toBe("never");
    expect(c.notes[0]!.text).toContain("old name of failure_action");
  });

  test("a directive given twice: the later line wins and the conflict names both", () => {
    const c = settings("final_action halt\nfinal_action poweroff\n");
    expect(c.settings.finalAction).toBe("poweroff");
    expect(c.conflicts).toEqual([{ key: "finalAction", winner: { file: "/etc/kdump.conf", line: 2 }, overridden: [{ file: "/etc/kdump.conf", line: 1, value: "halt" }] }]);
  });

  test.each([
    ["path /x\nfrobnicate 1\n", "/etc/kdump.conf:2: frobnicate 1: unknown directive"],
    ["dracut_args --omit-drivers foo\n", "/etc/kdump.conf:1: dracut_args --omit-drivers foo: not supported: the toolkit builds its own capture initramfs without dracut"],
    ["fence_kdump_nodes node1 node2\n", "/etc/kdump.conf:1: fence_kdump_nodes node1 node2: not supported: fence_kdump"],
    ["fence_kdump_args -p 7410\n", "/etc/kdump.conf:1: fence_kdump_args -p 7410: not supported: fence_kdump"],
    ["core_collector makedumpfile -c -d x\n", "/etc/kdump.conf:1: core_collector: -d takes a dump level 0-31"],
    ["core_collector cp\n", "/etc/kdump.conf:1: core_collector cp: cp is not supported as the collector"],
    ["core_collector makedumpfile --bogus\n", "/etc/kdump.conf:1: core_collector: makedumpfile option --bogus is not supported"],
    ["path /x\nfailure_action explode\n", "/etc/kdump.conf:2: failure_action explode: expected one of reboot, halt, poweroff, shell, dump_to_rootfs"],
    ["final_action shell\n", "/etc/kdump.conf:1: final_action shell: expected one of reboot, halt, poweroff"],
    ["nfs\n", "/etc/kdump.conf:1: nfs: a value is expected"],
    ["nfs server\n", "/etc/kdump.conf:1: nfs server: server:/export is expected"],
    ["  ssh vault\n", "/etc/kdump.conf:1: ssh vault: user@host is expected"],
    ["path var/crash\n", "/etc/kdump.conf:1: path var/crash: an absolute path is expected"],
    ["raw vdb\n", "/etc/kdump.conf:1: raw vdb: an absolute path is expected"],
    ["raw /tmp/x\n", "/etc/kdump.conf:1: raw /tmp/x: a block device under /dev is expected"],
    ["ext4 sdb1\n", "/etc/kdump.conf:1: ext4 sdb1: a device is expected"],
    ["ext4 LABEL=a\nnfs s:/e\n", "/etc/kdump.conf:2: nfs s:/e: a second dump target (the first is ext4 at line 1)"],
    ["kdump_pre pre.sh\n", "/etc/kdump.conf:1: kdump_pre pre.sh: an absolute path is expected"],
    ["sshkey\n", "/etc/kdump.conf:1: sshkey: a value is expected"],
    ["force_rebuild 1\nforce_no_rebuild 1\n", "/etc/kdump.conf:2: force_no_rebuild 1: contradicts force_rebuild at line 1"],
    ["auto_reset_crashkernel maybe\n", "/etc/kdump.conf:1: auto_reset_crashkernel maybe: yes or no is expected"],
  ])("refuses %p at its line, saying what to do", (text, message) => {
    const e = configError(() => readKdumpConf(text));
    expect(e.summary()).toStartWith(message);
    expect(e.hint).toBeTruthy();
  });
});
