// The collector's promises on the host: kdump-utils' layout with private permissions, no overwrite of an earlier
// dump, a full disk leaving an incomplete file with its reason and running the failure action (a fake one), ssh
// through a stand-in that runs the remote command locally, and targets found by LABEL/UUID like blkid finds them.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $ } from "bun";
import { collect, CollectError, type CollectSys } from "../../lib/collect/collect.ts";
import { parseTarget } from "../../lib/config/target.ts";
import { realTargetSys, openOutput, mountPointOf, dumpDirName, type TargetSys } from "../../lib/collect/target.ts";
import { REBOOT_CMD, runFailureAction, type FailureSys } from "../../lib/collect/failure.ts";
import { findDevice, probeDevice } from "../../lib/collect/blkid.ts";
import { openDump } from "../../lib/dump/open.ts";
import { KdumpDump } from "../../lib/dump/kdump_compressed.ts";
import { analyze } from "../../lib/analyze/command.ts";
import { RefusedError, SyscallError } from "../../lib/errors.ts";
import { libcMount } from "../../lib/sys/mount.ts";
import { Progress } from "../../lib/collect/progress.ts";
import { sysrqDump } from "../dump/_peers.ts";

const tmp = mkdtempSync(join(tmpdir(), "collect-test-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A system whose failure actions are recorded instead of run. */
function fakeSys(target: TargetSys = realTargetSys) {
  const calls: string[] = [];
  const logs: string[] = [];
  const failure: FailureSys = {
    reboot: { sync: () => void calls.push("sync"), reboot: (cmd) => (calls.push(`reboot ${cmd.toString(16)}`), { ret: -1n, errno: 1 }) },
    shell: () => void calls.push("shell"),
    inCaptureKernel: () => true,
  };
  const sys: CollectSys = { target, failure, log: (l) => void logs.push(l) };
  return { sys, calls, logs };
}

describe("collect() into a directory", () => {
  test("writes <host>-<date>/vmcore and vmcore-dmesg.txt, 0600 in 0700, and never over an earlier dump", async () => {
    const { vmcore } = await sysrqDump("6.1");
    const out = join(tmp, "layout");
    const a = await collect({ from: vmcore, out, host: "lab", progress: () => {} });
    const b = await collect({ from: vmcore, out, host: "lab", progress: () => {} });
    const name = dumpDirName("lab", new Date(Number(/CRASHTIME=(\d+)/.exec(openDump(vmcore).vmcoreinfo!)![1]) * 1000));
    expect(a.path).toBe(join(out, name, "vmcore"));
    expect(b.path).toBe(join(out, `${name}-2`, "vmcore"));
    for (const dir of [name, `${name}-2`]) {
      expect(readdirSync(join(out, dir)).sort()).toEqual(["vmcore", "vmcore-dmesg.txt"]);
      expect(statSync(join(out, dir)).mode & 0o777).toBe(0o700);
      for (const f of ["vmcore", "vmcore-dmesg.txt"]) expect(statSync(join(out, dir, f)).mode & 0o777).toBe(0o600);
    }
    expect(readFileSync(a.path).equals(readFileSync(b.path))).toBe(true);
  }, 120_000);

  test("--keep 2 leaves the two newest complete dumps after a third; --no-dmesg saves no kernel log", async () => {
    const { vmcore } = await sysrqDump("6.1");
    const out = join(tmp, "keep");
    const { sys, logs } = fakeSys();
    const paths: string[] = [];
    for (let i = 0; i < 3; i++) paths.push((await collect({ from: vmcore, out, host: "lab", keep: 2, dmesg: false, level: 31, compress: "zstd", progress: () => {} }, sys)).path);
    expect(readdirSync(out).sort()).toEqual(paths.slice(1).map((p) => p.split("/").at(-2)!).sort());
    for (const p of paths.slice(1)) expect(readdirSync(join(p, ".."))).toEqual(["vmcore"]);
    expect(logs).toEqual([`kdump collect: deleted ${join(paths[0]!, "..")} (keeping 2 dumps)`]);
  }, 120_000);

  // Needs root to mount a small tmpfs as the full disk (CI runs as root); the lab test fills a real ext4 disk.
  test.skipIf(process.getuid?.() !== 0)("on a full disk keeps vmcore-incomplete with its reason, says so, and runs the failure action", async () => {
    const { vmcore } = await sysrqDump("6.1");
    const mnt = join(tmp, "full");
    mkdirSync(mnt);
    libcMount.mount("tmpfs", mnt, "tmpfs", 0, "size=6m");
    try {
      const { sys, calls, logs } = fakeSys();
      const err = await collect({ from: vmcore, out: mnt, host: "lab", failureAction: "reboot", progress: () => {} }, sys).catch((e) => e);
      expect(err).toBeInstanceOf(CollectError);
      const dir = join(mnt, readdirSync(mnt)[0]!);
      expect(readdirSync(dir).sort()).toEqual(["vmcore-dmesg.txt", "vmcore-incomplete", "vmcore-incomplete.reason"]);
      expect(readFileSync(join(dir, "vmcore-incomplete.reason"), "utf8")).toMatch(/no space left/i);
      expect(logs.join("\n")).toMatch(/FAILED: .*no space left/i);
      expect(logs.join("\n")).toContain("vmcore-incomplete (it is not named vmcore)");
      expect(calls).toEqual(["sync", `reboot ${REBOOT_CMD.restart.toString(16)}`]);
      // the partial dump is a kdump file marked incomplete, and the kernel log in low memory made it in
      const d = openDump(join(dir, "vmcore-incomplete")) as KdumpDump;
      expect(d.header.status & 0x8).toBe(0x8);
      d.close();
      expect(analyze(join(dir, "vmcore-incomplete"), "log")).toBe(analyze(vmcore, "log"));
    } finally {
      libcMount.umount(mnt);
    }
  }, 120_000);
});

describe("libcMount", () => {
  // Needs root (CI runs as root); the full-disk test above mounts through it too.
  test.skipIf(process.getuid?.() !== 0)("mount() names the errno and the file system when the kernel refuses", () => {
    const at = join(tmp, "nofs");
    mkdirSync(at);
    expect(() => libcMount.mount("none", at, "no-such-fs")).toThrow(SyscallError);
    expect(() => libcMount.mount("none", at, "no-such-fs")).toThrow(/mount\(none on .*no-such-fs\) failed with ENODEV/);
  });
});

describe("Progress", () => {
  test("line() says bytes read, pages written of those kept, the rate and the ETA", () => {
    const p = new Progress(1000, () => {}, 0);
    expect(p.line(250, 3 * 2 ** 20)).toMatch(/^kdump collect: 3\.0 MiB read, 250\/1000 pages kept \(25%\), [\d.]+ [MG]iB\/s, ETA \d+ s$/);
  });
});

describe("kdump collect (CLI)", () => {
  const KDUMP = join(import.meta.dir, "..", "..", "kdump.ts");
  test("a bad level is a usage error: one line, exit 2", async () => {
    const r = await $`${process.execPath} ${KDUMP} collect --from /nonexistent --out ${tmp} --level 32`.quiet().nothrow();
    expect(r.exitCode).toBe(2);
    expect(r.stderr.toString().trim().split("\n")).toEqual([expect.stringMatching(/^kdump: dump level 32 is not 0–31: /)]);
  });

  test("a missing dump is one line and exit 1, and nothing is created", async () => {
    const out = join(tmp, "cli-missing");
    const r = await $`${process.execPath} ${KDUMP} collect --from /nonexistent --out ${out}`.quiet().nothrow();
    expect(r.exitCode).toBe(1);
    expect(r.stderr.toString().trim()).toBe("kdump: /nonexistent: no such file or directory");
    expect(existsSync(out)).toBe(false);
  });
});

describe("runFailureAction()", () => {
  test("refuses to reboot outside a capture kernel without --yes, and runs a shell when asked", () => {
    const { sys, calls } = fakeSys();
    const host: FailureSys = { ...sys.failure, inCaptureKernel: () => false };
    expect(() => runFailureAction("poweroff", host, () => {})).toThrow(RefusedError);
    expect(calls).toEqual([]);
    runFailureAction("poweroff", host, () => {}, true);
    runFailureAction("shell", host, () => {});
    runFailureAction("none", host, () => {});
    expect(calls).toEqual(["sync", `reboot ${REBOOT_CMD.poweroff.toString(16)}`, "shell"]);
  });
});

describe("ssh target", () => {
  /** Stands in for ssh: checks its safety options, then runs the remote command here with sh. */
  function localSsh(seen: string[][]): TargetSys {
    return {
      ...realTargetSys,
      spawn(cmd) {
        seen.push(cmd);
        expect(cmd.slice(0, 5)).toEqual(["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"]);
        const p = Bun.spawn(["sh", "-c", cmd[cmd.length - 1]!], { stdin: "pipe", stderr: "pipe" });
        return { stdin: p.stdin, exited: p.exited, stderr: () => new Response(p.stderr).text(), kill: () => p.kill() };
      },
    };
  }

  test("streams the flattened dump, renamed to vmcore.flat only once it ended with the end marker", async () => {
    const { vmcore } = await sysrqDump("6.1");
    const seen: string[][] = [];
    const remote = join(tmp, "remote");
    const r = await collect({ from: vmcore, out: `ssh://kdump@backup:2222${remote}`, host: "lab", progress: () => {} }, fakeSys(localSsh(seen)).sys);
    const dir = join(remote, readdirSync(remote)[0]!);
    expect(r.path).toBe(`kdump@backup:${join(dir, "vmcore.flat")}`);
    expect(readdirSync(dir).sort()).toEqual(["vmcore-dmesg.txt", "vmcore.flat"]);
    expect(seen.every((c) => c.includes("-p") && c.includes("2222") && c.includes("kdump@backup"))).toBe(true);
    expect(analyze(join(dir, "vmcore.flat"), "log")).toBe(analyze(vmcore, "log"));
  }, 120_000);

  test("a stream cut short stays vmcore.flat-incomplete, with the reason beside it", async () => {
    const remote = join(tmp, "remote-cut");
    const out = await openOutput(parseTarget(`ssh://backup${remote}`), { host: "lab", when: new Date(0), file: "vmcore.flat", stream: true }, localSsh([]));
    await out.sink.write(0, new Uint8Array(4096).fill(7));
    await Bun.sleep(200);
    expect(await out.fail("the capture kernel ran out of memory")).toBe(`backup:${remote}/lab-1970-01-01-00:00:00/vmcore.flat-incomplete`);
    await Bun.sleep(200);
    const dir = join(remote, "lab-1970-01-01-00:00:00");
    expect(existsSync(join(dir, "vmcore.flat"))).toBe(false);
    expect(readFileSync(join(dir, "vmcore.flat-incomplete.reason"), "utf8")).toBe("the capture kernel ran out of memory\n");
  });
});

describe("targets", () => {
  test.each([
    ["-", { kind: "stdout" }],
    ["/var/crash", { kind: "dir", path: "/var/crash" }],
    ["LABEL=crash", { kind: "device", spec: "LABEL=crash", sub: "/" }],
    ["UUID=0b7a-11:/dumps/x", { kind: "device", spec: "UUID=0b7a-11", sub: "/dumps/x" }],
    ["/dev/vdb", { kind: "raw", device: "/dev/vdb" }],
    ["ssh://root@10.0.0.2/var/crash", { kind: "ssh", dest: "root@10.0.0.2", port: null, path: "/var/crash" }],
    ["ssh://h:22/x", { kind: "ssh", dest: "h", port: 22, path: "/x" }],
  ])("parseTarget(%p)", (out, want) => {
    expect(parseTarget(out)).toEqual(want as ReturnType<typeof parseTarget>);
  });

  // A loop device as the raw disk needs root (CI runs as root).
  test.skipIf(process.getuid?.() !== 0)("a raw block device gets the flattened stream, which our reader opens from the disk image behind it", async () => {
    const { vmcore } = await sysrqDump("6.1");
    const img = join(tmp, "raw.img");
    writeFileSync(img, new Uint8Array(48 << 20));
    const dev = (await $`losetup -f --show ${img}`.text()).trim();
    try {
      const r = await collect({ from: vmcore, out: dev, host: "lab", progress: () => {} });
      expect(r.path).toBe(dev);
      expect(r.format).toBe("flat");
    } finally {
      await $`losetup -d ${dev}`.quiet().nothrow();
    }
    expect(analyze(img, "log")).toBe(analyze(vmcore, "log"));
  }, 120_000);

  test("parseTarget() rejects an ssh target without a path", () => {
    expect(() => parseTarget("ssh:host")).toThrow(/cannot parse ssh target/);
  });

  test("probeDevice() and findDevice() see the UUID and LABEL blkid sees on an ext4 image", async () => {
    const sys = join(tmp, "sysblock");
    const dev = join(tmp, "dev");
    mkdirSync(sys);
    mkdirSync(dev);
    await $`mke2fs -q -F -t ext4 -L kdumptgt ${join(dev, "vdb")} 8M`.quiet();
    await $`mke2fs -q -F -t ext2 -L other ${join(dev, "vdc")} 2M`.quiet();
    writeFileSync(join(dev, "vda"), "not a file system");
    for (const n of ["vda", "vdb", "vdc"]) mkdirSync(join(sys, n));
    const blkid = (await $`blkid -o export ${join(dev, "vdb")}`.text()).trim();
    const uuid = /^UUID=(.*)$/m.exec(blkid)![1]!;
    expect(probeDevice(join(dev, "vdb"))).toEqual({ fstype: "ext4", uuid, label: "kdumptgt" });
    expect(probeDevice(join(dev, "vdc"))?.fstype).toBe(/^TYPE=(.*)$/m.exec((await $`blkid -o export ${join(dev, "vdc")}`.text()))![1]!);
    expect(findDevice("LABEL=kdumptgt", sys, dev)?.device).toBe(join(dev, "vdb"));
    expect(findDevice(`UUID=${uuid.toUpperCase()}`, sys, dev)?.device).toBe(join(dev, "vdb"));
    expect(findDevice("LABEL=absent", sys, dev)).toBeNull();
  });

  test("mountPointOf() finds a device's mount point by its device number", () => {
    const info = "22 1 1:3 / /mnt/x\\040y rw,relatime shared:1 - ext4 /dev/null rw\n23 1 1:3 /sub /elsewhere rw - ext4 /dev/null rw\n";
    expect(mountPointOf(info, "/dev/null")).toBe("/mnt/x y");
    expect(mountPointOf(info, "/dev/zero")).toBeNull();
  });
});
