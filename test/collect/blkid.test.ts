// XFS and btrfs superblocks beside ext4: images made on the host by the real mkfs.xfs and mkfs.btrfs (sparse files,
// nothing mounted), with util-linux blkid as the oracle for TYPE, UUID and LABEL.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $ } from "bun";
import { findDevice, probeDevice, probeSuperblock } from "../../lib/collect/blkid.ts";

const tmp = mkdtempSync(join(tmpdir(), "kdump-blkid-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const have = async (p: string) => (await $`sh -c ${`command -v ${p}`}`.quiet().nothrow()).exitCode === 0;
// xfsprogs and btrfs-progs come with `kdump lab setup`
const tools = (await have("mkfs.xfs")) && (await have("mkfs.btrfs")) && (await have("blkid"));

async function blkid(path: string): Promise<Record<string, string>> {
  const out = (await $`blkid -p -o export ${path}`.text()).trim();
  return Object.fromEntries(out.split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
}

describe.if(tools)("blkid of XFS and btrfs", () => {
  const dev = join(tmp, "dev");
  const sys = join(tmp, "sysblock");
  test("probeDevice() reads the TYPE, UUID and LABEL blkid reads from real mkfs.xfs and mkfs.btrfs images", async () => {
    mkdirSync(dev);
    mkdirSync(sys);
    await $`truncate -s 320M ${join(dev, "vdb")} ${join(dev, "vdc")} ${join(dev, "vdd")} ${join(dev, "vde")}`.quiet();
    await $`mkfs.xfs -q -L crashxfs ${join(dev, "vdb")}`.quiet();
    await $`mkfs.xfs -q ${join(dev, "vdc")}`.quiet(); // no label
    await $`mkfs.btrfs -q -L dumps ${join(dev, "vdd")}`.quiet();
    await $`mke2fs -q -F -t ext4 -L ext ${join(dev, "vde")}`.quiet();
    for (const n of ["vdb", "vdc", "vdd", "vde"]) {
      mkdirSync(join(sys, n));
      const want = await blkid(join(dev, n));
      expect(probeDevice(join(dev, n))).toEqual({ fstype: want.TYPE!, uuid: want.UUID!, label: want.LABEL ?? "" });
    }
  }, 120_000);

  test("findDevice() finds an XFS disk by UUID and a btrfs disk by LABEL", async () => {
    const xfsUuid = (await blkid(join(dev, "vdc"))).UUID!;
    expect(findDevice(`UUID=${xfsUuid}`, sys, dev)).toMatchObject({ device: join(dev, "vdc"), fstype: "xfs" });
    expect(findDevice("LABEL=dumps", sys, dev)).toMatchObject({ device: join(dev, "vdd"), fstype: "btrfs" });
    expect(findDevice("LABEL=crashxfs", sys, dev)).toMatchObject({ device: join(dev, "vdb"), fstype: "xfs" });
    expect(findDevice("UUID=00000000-0000-0000-0000-000000000000", sys, dev)).toBeNull();
  });
});

test("probeSuperblock() knows nothing of zeros or a short read", () => {
  expect(probeSuperblock(new Uint8Array(70000))).toBeNull();
  expect(probeSuperblock(new Uint8Array(100))).toBeNull();
  writeFileSync(join(tmp, "short"), "XFSB");
  expect(probeDevice(join(tmp, "short"))).toBeNull();
});
