// Drivers from modaliases on Debian's real 6.1 (.ko) and 6.12 (.ko.xz) module trees, which ship no modules.alias.
// Oracle: busybox depmod's modules.alias over the same 6.1 driver modules.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $ } from "bun";
import { aliasTable, fnmatchRegExp, modulesForAlias, parseModulesAlias, type AliasEntry } from "../../lib/initramfs/modalias.ts";
import { moduleIndex } from "../../lib/initramfs/modules.ts";
import { fetchKernel } from "../../lib/lab/kernels.ts";

const scratch = mkdtempSync(join(tmpdir(), "kdump-modalias-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Modaliases QEMU's storage devices show, and the drivers modprobe loads for them (unless built in). */
const DEVICES: [string, string, string[], string?][] = [
  ["virtio-blk", "virtio:d00000002v00001AF4", ["virtio_blk"]],
  ["virtio-scsi", "virtio:d00000008v00001AF4", ["virtio_scsi"]],
  ["virtio PCI transport", "pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00", ["virtio_pci"]],
  ["NVMe controller", "pci:v00001B36d00000010sv00001AF4sd00001100bc01sc08i02", ["nvme"]],
  ["AHCI controller (ich9)", "pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01", ["ahci"], "CONFIG_SATA_AHCI"],
  ["SCSI disk", "scsi:t-0x00", ["sd_mod"]],
];

describe.each(["6.1", "6.12"])("modaliases on Debian %s", (line) => {
  let table: AliasEntry[];
  let builtin: Set<string>;
  let config: string;
  beforeAll(async () => {
    const k = await fetchKernel(line);
    config = readFileSync(k.config!, "utf8");
    const idx = moduleIndex(k.modulesDir);
    table = aliasTable(idx);
    builtin = new Set([...readFileSync(join(idx.dir, "modules.builtin"), "utf8").matchAll(/([^/\n]+)\.ko$/gm)].map((m) => m[1]!.replace(/-/g, "_")));
  }, 300_000);
  test.each(DEVICES)("%s (%s) → %p, a module file or built in", (...[, alias, want, option]) => {
    // the 6.1 cloud kernel has no AHCI driver at all ("# CONFIG_SATA_AHCI is not set"): nothing matches
    if (option && config.includes(`# ${option} is not set`)) return expect(modulesForAlias(alias, table)).toEqual([]);
    for (const m of want) expect(builtin.has(m) ? "builtin" : modulesForAlias(alias, table)).toEqual(builtin.has(m) ? "builtin" : expect.arrayContaining([m]));
  });
});

test("aliasTable() without modules.alias matches what busybox depmod's modules.alias says (6.1)", async () => {
  const k = await fetchKernel("6.1");
  const base = join(scratch, "bb");
  const dir = join(base, "lib/modules/9.9.9");
  mkdirSync(join(dir, "kernel"), { recursive: true });
  cpSync(join(k.modulesDir, "kernel/drivers"), join(dir, "kernel/drivers"), { recursive: true });
  const ours = aliasTable(moduleIndex(dir));
  await $`busybox depmod -b ${base} 9.9.9`.quiet();
  const depmod = parseModulesAlias(readFileSync(join(dir, "modules.alias"), "utf8"));
  expect(aliasTable(moduleIndex(dir)).length).toBe(depmod.length); // now read from modules.alias
  for (const [, alias] of DEVICES) expect(modulesForAlias(alias, ours).sort()).toEqual(modulesForAlias(alias, depmod).filter((m) => ours.some((a) => a.module === m)).sort());
}, 300_000);

test("fnmatchRegExp() reads *, ? and [...] as fnmatch does", () => {
  expect(fnmatchRegExp("pci:v*d*bc01sc0[68]i*").test("pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01")).toBe(true);
  expect(fnmatchRegExp("scsi:t-0x0[!0]*").test("scsi:t-0x00")).toBe(false);
  expect(fnmatchRegExp("a.b?").test("a.bc")).toBe(true);
  expect(fnmatchRegExp("a.b?").test("axbc")).toBe(false);
});
