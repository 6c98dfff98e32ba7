import { describe, expect, test } from "bun:test";
import { readKdumpTools } from "../../lib/config/kdump_tools.ts";
import { merge } from "../../lib/config/settings.ts";
import { kdumpToolsDefaults } from "../boot/fixtures.ts";
import { configError } from "./_errors.ts";

const FILE = "/etc/default/kdump-tools";
const settings = (text: string) => merge([readKdumpTools(text)]);
const lineOf = (text: string, start: string) => text.split("\n").findIndex((l) => l.startsWith(start)) + 1;

describe("readKdumpTools()", () => {
  test("reads the file kdump-tools ships (from Debian's package): enabled, /var/crash, kdump-tools' default -c -d 31", async () => {
    const text = await kdumpToolsDefaults();
    const c = settings(text);
    expect(c.settings).toMatchObject({ enabled: true, target: { kind: "dir", path: "/var/crash" }, codec: "zlib", dumpLevel: 31, kernel: null, dmesg: true, keep: 0 });
    expect(c.origins.enabled).toEqual({ file: FILE, line: lineOf(text, "USE_KDUMP=") });
    expect(c.origins.target).toEqual({ file: FILE, line: lineOf(text, "KDUMP_COREDIR=") });
    expect(c.origins.codec).toEqual({ file: FILE, line: 0 }); // MAKEDUMP_ARGS unset: kdump-tools' own default
    expect(c.notes.map((n) => n.text.split(":")[0])).toEqual(["KDUMP_KERNEL=/var/lib/kdump/vmlinuz is kdump-tools' own link", "KDUMP_INITRD"]);
  });

  test("reads every variable kdump-tools documents into its setting", () => {
    const text = `USE_KDUMP=0
KDUMP_KERNEL=/boot/vmlinuz-6.1.0-56-cloud-amd64
KDUMP_COREDIR="/srv/dumps"
KDUMP_DUMP_DMESG=0
KDUMP_NUM_DUMPS=2
KDUMP_FAIL_CMD="reboot -f"
MAKEDUMP_ARGS="-l -d 1 --message-level 3"
KDUMP_CMDLINE="console=ttyS0 root=/dev/vda"
KDUMP_CMDLINE_APPEND="reset_devices systemd.unit=kdump-tools-dump.service nr_cpus=1"
SSH="kdump@vault"
SSH_KEY=/root/.ssh/vault
NFS_TIMEO=600
NFS_RETRANS=3
HOSTTAG=hostname
`;
    const c = settings(text);
    expect(c.settings).toMatchObject({
      enabled: false,
      kernel: "/boot/vmlinuz-6.1.0-56-cloud-amd64",
      target: { kind: "ssh", dest: "kdump@vault", port: null, path: "/srv/dumps" },
      dmesg: false,
      keep: 2,
      failureAction: "reboot",
      codec: "lzo",
      dumpLevel: 1,
      cmdline: "console=ttyS0 root=/dev/vda",
      cmdlineAppend: ["reset_devices", "nr_cpus=1"],
      sshKey: "/root/.ssh/vault",
      nfsTimeo: 600,
      nfsRetrans: 3,
      hostTag: "hostname",
    });
    expect(c.origins.keep).toEqual({ file: FILE, line: 5 });
    expect(c.origins.target).toEqual({ file: FILE, line: 10 });
    expect(c.notes.map((n) => n.line)).toEqual([7, 9]); // --message-level; systemd.unit= left out
  });

  test.each([
    ["KDUMP_FAIL_CMD=halt", "halt"],
    ["KDUMP_FAIL_CMD=/sbin/poweroff", "poweroff"],
    ['KDUMP_FAIL_CMD="/bin/sh -i"', "shell"],
  ])("maps %p to the failure action %p", (line, action) => {
    expect(settings(`${line}\n`).settings.failureAction).toBe(action as never);
  });

  test("reads KDUMP_DEVICE_TIMEOUT, the bound on waiting for the capture's disks (default 90 s), and refuses a non-number", () => {
    expect(settings("").settings.deviceTimeout).toBe(90);
    expect(settings("KDUMP_DEVICE_TIMEOUT=30\n").settings.deviceTimeout).toBe(30);
    expect(() => settings("KDUMP_DEVICE_TIMEOUT=soon\n")).toThrow("KDUMP_DEVICE_TIMEOUT=soon: a number is expected");
  });

  test("reads an NFS export as the target", () => {
    expect(settings('NFS="srv:/export/crash"\n').settings.target).toEqual({ kind: "nfs", server: "srv", export: "/export/crash", sub: "/" });
  });

  test("notes variables it has no use for, and skips empty ones", () => {
    const c = settings('KDUMP_COMPRESSION=xz\nFTP_USER=""\nKDUMP_NUM_DUMPS=\nMY_VAR=1\n');
    expect(c.notes.map((n) => [n.line, n.text.split(":")[0]])).toEqual([[1, "KDUMP_COMPRESSION"], [4, "MY_VAR is not a setting kdump-tools or this toolkit reads"]]);
    expect(c.settings.keep).toBe(0);
  });

  test.each([
    ["USE_KDUMP=yes\n", `${FILE}:1: USE_KDUMP=yes: 0 or 1 is expected`],
    ['X=1\nNFS="nfs-server"\n', `${FILE}:2: NFS=nfs-server: server:/export is expected`],
    ['SSH="a@b"\nNFS="s:/e"\n', `${FILE}:2: NFS and SSH (line 1) are both set`],
    ['FTP="ftp.example:/dumps"\n', `${FILE}:1: FTP: dumping to an FTP server is not supported`],
    ["KDUMP_NUM_DUMPS=all\n", `${FILE}:1: KDUMP_NUM_DUMPS=all: a number is expected`],
    ["KDUMP_DUMP_DMESG=yes\n", `${FILE}:1: KDUMP_DUMP_DMESG=yes: 0 or 1 is expected`],
    ['KDUMP_FAIL_CMD="logger oops"\n', `${FILE}:1: KDUMP_FAIL_CMD=logger oops: the toolkit runs failure actions, not commands`],
    ['MAKEDUMP_ARGS="-c -d 31 --split"\n', `${FILE}:1: MAKEDUMP_ARGS: makedumpfile option --split is not supported`],
    ["KDUMP_COREDIR=crash\n", `${FILE}:1: KDUMP_COREDIR=crash: an absolute path is expected`],
    ["NFS_TIMEO=soon\n", `${FILE}:1: NFS_TIMEO=soon: a number is expected`],
    ["HOSTTAG=fqdn\n", `${FILE}:1: HOSTTAG=fqdn: hostname or ip is expected`],
    ['KDUMP_COREDIR="$HOME/crash"\n', `${FILE}:1: KDUMP_COREDIR uses a shell expansion`],
  ])("refuses %p at its line, saying what to do", (text, message) => {
    const e = configError(() => readKdumpTools(text));
    expect(e.summary()).toStartWith(message);
    expect(e.hint).toBeTruthy();
  });
});
