// The config honoured by a real capture, in QEMU guests of Debian 6.1 and 6.12 (busybox userland): kdump load reads
// /etc/kdump.conf or /etc/default/kdump-tools, a sysrq crash boots our capture init, and what it does is what the
// file says: target path, codec, level, final action, hooks, dumps kept, failure action, and its own log.
import { describe, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, readSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { $ } from "bun";
import { join } from "node:path";
import { fetchKernel } from "../../lib/lab/kernels.ts";
import { guestCopy, guestFile, guestList, runGuest, type GuestResult } from "../../lib/lab/qemu.ts";
import { openDump } from "../../lib/dump/open.ts";
import type { KdumpDump } from "../../lib/dump/kdump_compressed.ts";
import { MATRIX } from "../_matrix.ts";

const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");
const userLines = (r: GuestResult) => plain(r.console).split("\n").filter((l) => !l.startsWith("["));
const printed = (r: GuestResult, key: string) => userLines(r).filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));
const text = (s: string) => Buffer.from(s);
const exe = (body: string) => text(`#!/bin/sh\n${body}\n`);
/** Each boot but the last: load the capture kernel (the config decides the rest), crash. */
const crashJob = (crashes: number, after = "") => `
chmod +x /usr/local/sbin/* 2>/dev/null
if [ "$LAB_BOOT" -le ${crashes} ]; then
  kdump config; kdump load; echo "RC-LOAD=$?"
  sync; kdump trigger --yes
  echo "LAB-ERROR trigger returned"; exit 98
fi
${after}`;

/** The codec flags of a kdump-compressed file's page descriptors (0 raw, 1 zlib, 2 lzo, 0x20 zstd), as a set. */
function pageFlags(path: string): Set<number> {
  const d = openDump(path) as KdumpDump;
  const h = d.header;
  d.close();
  const fd = openSync(path, "r");
  try {
    const at = (1 + h.subHdrSize + h.bitmapBlocks) * h.blockSize;
    const desc = Buffer.alloc(24 * 4096);
    readSync(fd, desc, 0, desc.length, at);
    const first = Number(desc.readBigUInt64LE(0)); // the first page's data follows the descriptors
    const n = Math.min(4096, (first - at) / 24);
    const flags = new Set<number>();
    for (let i = 0; i < n; i++) flags.add(desc.readUInt32LE(i * 24 + 12));
    return flags;
  } finally {
    closeSync(fd);
  }
}

// 6.1 in the default run; 6.12 too in the matrix
describe.each(MATRIX ? ["6.1", "6.12"] : ["6.1"])("the capture applies the config (Debian %s)", (line) => {
  test("kdump.conf path, core_collector -c -d 1 and final_action poweroff: a zlib level-1 dump there, a post hook's marker with status 0, kexec-dmesg.log beside it, and QEMU powers off", async () => {
    const kernel = await fetchKernel(line);
    const files = {
      "/etc/kdump.conf": text("path /var/crash/x\ncore_collector makedumpfile -c -d 1\nkdump_post /usr/local/sbin/post\nfinal_action poweroff\n"),
      "/usr/local/sbin/post": exe('echo "post $1" > /var/crash/post-marker; sync'),
    };
    // 640 MiB: -d 1 keeps every non-zero page, and a smaller guest has fewer to compress (the default suite runs this)
    const r = await runGuest({ kernel, job: crashJob(1), cmdline: "crashkernel=192M", memoryMiB: 640, boots: 1, timeoutSeconds: 900, rootfs: { files } });
    const out = mkdtempSync(join(tmpdir(), "kdump-lab-config-"));
    try {
      expect(printed(r, "RC-LOAD")).toEqual(["0"]);
      expect(r.console).toContain("kdump-capture: saved by the collector");
      expect(r.console).toContain("kdump-capture: powering off");
      expect(r.timedOut).toBe(false);
      expect(r.kernelBoots).toBe(2); // the crashed kernel and the capture kernel: no reboot after it
      expect(r.console).not.toContain("LAB-BOOT 2");
      const [dir, ...more] = (await guestList(r.rootImage, "/var/crash/x"))!;
      expect(more).toEqual([]);
      expect((await guestList(r.rootImage, `/var/crash/x/${dir}`))!.sort()).toEqual(["kexec-dmesg.log", "vmcore", "vmcore-dmesg.txt"]);
      const copy = join(out, "vmcore");
      await guestCopy(r.rootImage, `/var/crash/x/${dir}/vmcore`, copy);
      const d = openDump(copy) as KdumpDump;
      expect(d.header.dumpLevel).toBe(1);
      expect(d.header.status & 0x8).toBe(0); // complete
      d.close();
      expect([...pageFlags(copy)].filter((f) => f !== 0)).toEqual([0x1]); // zlib pages (raw ones did not shrink)
      expect((await guestFile(r.rootImage, "/var/crash/post-marker"))?.toString()).toBe("post 0\n");
      const log = (await guestFile(r.rootImage, `/var/crash/x/${dir}/kexec-dmesg.log`))!.toString();
      expect(log).toContain("Linux version 6.1"); // the capture kernel's own messages
      expect(log).toContain("kdump-capture: saved by the collector");
      expect(log).toContain("kdump-capture: post hook /usr/local/sbin/post 0 exited 0");
    } finally {
      rmSync(out, { recursive: true, force: true });
      r.cleanup();
    }
  }, 900_000);

  test.skipIf(!MATRIX)("kdump-tools KDUMP_NUM_DUMPS=2 and three crashes: the two newest dump folders remain, none incomplete", async () => {
    const kernel = await fetchKernel(line);
    const files = { "/etc/default/kdump-tools": text('USE_KDUMP=1\nKDUMP_COREDIR="/var/crash"\nKDUMP_NUM_DUMPS=2\n') };
    const after = `for d in /var/crash/*/; do echo "DUMP=$(basename $d) $(ls $d | tr '\\n' ' ')"; done`;
    const r = await runGuest({ kernel, job: crashJob(3, after), cmdline: "crashkernel=256M", boots: 4, timeoutSeconds: 2400, rootfs: { files } });
    try {
      expect(printed(r, "RC-LOAD")).toEqual(["0", "0", "0"]);
      expect(r.console.match(/kdump-capture: saved by the collector/g)?.length).toBe(3);
      const saved = [...plain(r.console).matchAll(/saved \/var\/crash\/([^/\s]+)\/vmcore /g)].map((m) => m[1]!);
      expect(saved.length).toBe(3);
      const dumps = printed(r, "DUMP");
      expect(dumps.map((l) => l.split(" ")[0]).sort()).toEqual(saved.slice(1).sort());
      for (const l of dumps) expect(l).not.toContain("incomplete");
      expect(r.console).toContain(`kdump collect: deleted /var/crash/${saved[0]} (keeping 2 dumps)`);
    } finally {
      r.cleanup();
    }
  }, 2_400_000);

  test.skipIf(!MATRIX)("a pre hook exiting 1 skips the dump and runs the final action; then failure_action shell with an unwritable target gives a shell prompt", async () => {
    const kernel = await fetchKernel(line);
    const files = {
      "/etc/kdump.conf": text("path /var/crash\nkdump_pre /usr/local/sbin/pre\nfinal_action reboot\n"),
      "/usr/local/sbin/pre": exe("echo pre says no; exit 1"),
      "/lab/kdump-shell.conf": text("path /var/crash/blocked\nfailure_action shell\nfinal_action poweroff\n"),
    };
    // boot 2: nothing was saved by the skipped dump; the next config's target is a file, so no folder can be made
    const job = `
chmod +x /usr/local/sbin/*
if [ "$LAB_BOOT" = 2 ]; then
  echo "AFTER-SKIP=$(ls /var/crash | wc -l)"
  cp /lab/kdump-shell.conf /etc/kdump.conf; echo "not a folder" > /var/crash/blocked
fi
kdump load; echo "RC-LOAD=$?"
sync; kdump trigger --yes
echo "LAB-ERROR trigger returned"; exit 98
`;
    const r = await runGuest({ kernel, job, cmdline: "crashkernel=256M", boots: 2, timeoutSeconds: 1500, rootfs: { files }, until: (c) => c.includes("kdump-shell# ") });
    try {
      expect(printed(r, "RC-LOAD")).toEqual(["0", "0"]);
      expect(r.console).toContain("pre says no");
      expect(r.console).toContain("kdump-capture: pre hook /usr/local/sbin/pre exited 1");
      expect(r.console).toContain("kdump-capture: the dump is skipped: a pre hook failed");
      expect(r.console).not.toMatch(/kdump-capture: saved/);
      expect(printed(r, "AFTER-SKIP")).toEqual(["0"]);
      expect(r.console).toContain("LAB-BOOT 2"); // the final action rebooted
      expect(r.console).toContain("kdump-capture: saving the dump failed");
      expect(r.console).toContain("kdump-capture: failure action: shell");
      expect(plain(r.console)).toContain("kdump-shell# "); // the prompt, waiting on the serial console
    } finally {
      r.cleanup();
    }
  }, 1_500_000);

  test.skipIf(!MATRIX)("failure_action dump_to_rootfs with an unwritable target: the capture copies the dump to the root filesystem's /var/crash, then the final action", async () => {
    const kernel = await fetchKernel(line);
    // the target is a file, so neither the collector nor the copy can make a folder in it
    const files = {
      "/etc/kdump.conf": text("path /var/crash/blocked\nfailure_action dump_to_rootfs\nfinal_action poweroff\n"),
      "/var/crash/blocked": text("not a folder\n"),
    };
    const r = await runGuest({ kernel, job: crashJob(1), cmdline: "crashkernel=192M", memoryMiB: 640, boots: 1, timeoutSeconds: 1200, rootfs: { files } });
    try {
      expect(printed(r, "RC-LOAD")).toEqual(["0"]);
      expect(r.console).toContain("kdump-capture: saving the dump failed");
      expect(r.console).toContain("kdump-capture: failure action: dump_to_rootfs");
      const saved = /kdump-capture: saved (\/var\/crash\/[^/\s]+)\/vmcore by busybox dd/.exec(plain(r.console))?.[1];
      expect(saved, userLines(r).slice(-30).join("\n")).toBeDefined();
      expect(r.console).toContain("kdump-capture: powering off");
      expect(r.kernelBoots).toBe(2);
      expect(await guestList(r.rootImage, saved!)).toEqual(["vmcore"]);
      // /proc/vmcore copied whole: most of the 448 MiB of RAM outside the reservation (debugfs stat, no read)
      const st = (await $`debugfs -R ${`stat ${saved}/vmcore`} ${r.rootImage}`.quiet().nothrow()).stdout.toString();
      expect(Number(/Size: (\d+)/.exec(st)?.[1])).toBeGreaterThan(400 * 1048576);
    } finally {
      r.cleanup();
    }
  }, 1_200_000);
});
