// dev -d on lab dumps with no debuginfo, against crash reading the same dump with the -dbg vmlinux (the crash binary
// is a parameter, _peer_crash.ts: Debian 12's 8.0.2 reads 6.1 only, KDUMP_PEER_CRASH=sid is crash 9.0.2). The
// sysrq dumps have no I/O in flight; the matrix adds a dump taken while readers and a writer keep direct I/O in flight
// on the root disk, whose own /sys/block/vda/inflight the guest prints a moment before the crash.
import { describe, expect, test } from "bun:test";
import { analyze } from "../../lib/analyze/command.ts";
import { formatDiskIo } from "../../lib/analyze/dev.ts";
import type { DiskIo } from "../../lib/kernel/block.ts";
import { LINES, sysrqDump } from "../dump/_peers.ts";
import { debugKernel } from "../kernel/_images.ts";
import { labDump, type LabDump } from "../lab/dumps.ts";
import { MATRIX } from "../_matrix.ts";
import { crashEach, PEER_CRASH, PEER_CRASH_LINES } from "./_peer_crash.ts";

const LAB = 1_800_000; // crash with the 590 MB vmlinux takes minutes on a loaded 2-CPU machine

const rows = (text: string) => text.trimEnd().split("\n").map((l) => l.trim().split(/\s+/));

/** A sysrq crash while 4 direct readers of vda and a direct writer to a file on it loop; the guest prints vda's inflight first. */
export const diskIoDump = (line: string): Promise<LabDump> =>
  labDump({
    line,
    scenario: "diskio",
    prepare: [
      "for i in 1 2 3 4; do (while :; do dd if=/dev/vda of=/dev/null bs=64k count=4000 skip=$((i * 4000)) iflag=direct 2>/dev/null; done) & done",
      "(while :; do dd if=/dev/zero of=/var/tmp/lab-write bs=64k count=1000 oflag=direct 2>/dev/null; done) &",
      "sleep 3",
    ].join("\n"),
    crash: ["echo LAB-INFLIGHT $(cat /sys/block/vda/inflight)", "echo c > /proc/sysrq-trigger"].join("\n"),
  });

test("formatDiskIo() prints crash's columns: READ/WRITE, or ASYNC/SYNC on kernels with BLK_RW_SYNC", () => {
  const d: DiskIo = { major: 254, gendisk: 0xff130b3f02a18800n, name: "vda", queue: 0xff130b3f02a1c3c8n, mq: true, read: 3, write: 1 };
  expect(formatDiskIo([d])).toBe(
    "MAJOR GENDISK            NAME       REQUEST_QUEUE      TOTAL  READ WRITE \n  254 ff130b3f02a18800   vda        ff130b3f02a1c3c8       4     3     1 \n",
  );
  expect(formatDiskIo([], true).split(/\s+/).slice(4, 7)).toEqual(["TOTAL", "ASYNC", "SYNC"]);
});

/** The crash binaries and lines compared: KDUMP_PEER_CRASH on its lines; in the matrix also crash 9.0.2 (sid) on both. */
const PEERS: [string, string][] = [...PEER_CRASH_LINES.map((l): [string, string] => [PEER_CRASH, l]), ...(MATRIX && PEER_CRASH !== "sid" ? LINES.map((l): [string, string] => ["sid", l]) : [])];

describe.each(PEERS)("dev -d against crash %s on a %s sysrq dump", (bin, line) => {
  test("dev -d lists crash's disks: major, gendisk, name, request queue and requests in flight", async () => {
    const { vmcore } = await sysrqDump(line);
    const crash = await crashEach(vmcore, (await debugKernel(line)).vmlinux, ["dev -d", "dev -D"], bin);
    const peer = rows(crash.get("dev -d")!);
    expect(peer.length).toBeGreaterThan(1);
    expect(rows(analyze(vmcore, "dev", { args: ["-d"] }) as string)).toEqual(peer);
    expect(rows(analyze(vmcore, "dev", { args: ["-D"] }) as string)).toEqual(rows(crash.get("dev -D")!));
  }, LAB);

  test("dev with neither -d nor -D is refused with a one-line usage error", async () => {
    const { vmcore } = await sysrqDump(line);
    expect(() => analyze(vmcore, "dev", { args: [] })).toThrow(/dev takes -d/);
    expect(() => analyze(vmcore, "dev", { args: ["-d", "vda"] })).toThrow(/dev takes -d/);
  }, LAB);
});

describe.if(MATRIX).each(LINES)("dev -d with I/O in flight on %s (matrix)", (line) => {
  test("dev -d counts vda's reads and writes in flight, as crash 9.0.2 does", async () => {
    const d = await diskIoDump(line);
    const before = /LAB-INFLIGHT\s+(\d+)\s+(\d+)/.exec(d.console.replace(/\r/g, ""));
    expect(before).not.toBeNull();
    // the kernel's own count a moment before the crash: the readers and the writer had I/O in flight
    expect(Number(before![1]) + Number(before![2])).toBeGreaterThan(0);
    const disks = JSON.parse(analyze(d.vmcore, "dev", { json: true, args: ["-d"] }) as string) as DiskIo[];
    const vda = disks.find((x) => x.name === "vda")!;
    expect(vda.mq).toBe(true);
    expect(vda.read + vda.write).toBeGreaterThan(0);
    // crash 9.0.2 (sid) reads both lines
    const crash = await crashEach(d.vmcore, (await debugKernel(line)).vmlinux, ["dev -d"], "sid");
    expect(rows(analyze(d.vmcore, "dev", { args: ["-d"] }) as string)).toEqual(rows(crash.get("dev -d")!));
  }, LAB);
});
