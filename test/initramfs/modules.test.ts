// Module resolution on Debian's real 6.1 (.ko) and 6.12 (.ko.xz) module trees, which ship no modules.dep.
// Oracles: busybox depmod's modules.dep over the same modules (decompressed for 6.12), and binutils' readelf -p .modinfo.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $ } from "bun";
import { moduleBytes, moduleDepends, modinfo } from "../../lib/initramfs/modinfo.ts";
import { deviceModules, moduleIndex, mountOf, parseMountinfo, resolveModules, type ModuleIndex } from "../../lib/initramfs/modules.ts";
import { fetchKernel, type LabKernel } from "../../lib/lab/kernels.ts";

const scratch = mkdtempSync(join(tmpdir(), "kdump-modules-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** busybox depmod's answer for a module tree: name → transitive dependencies. .ko.xz files are decompressed first. */
async function depmodOracle(k: LabKernel): Promise<Map<string, Set<string>>> {
  const base = join(scratch, k.release);
  const dir = join(base, "lib/modules/9.9.9-oracle"); // busybox depmod wants a version-like name
  mkdirSync(dir, { recursive: true });
  cpSync(join(k.modulesDir, "kernel"), join(dir, "kernel"), { recursive: true });
  await $`find ${dir} -name '*.ko.xz' -print0 | xargs -0 -r xz -d`.quiet();
  await $`busybox depmod -b ${base} 9.9.9-oracle`.quiet();
  const name = (p: string) => p.split("/").pop()!.replace(/\.ko$/, "").replace(/-/g, "_");
  const out = new Map<string, Set<string>>();
  for (const l of readFileSync(join(dir, "modules.dep"), "utf8").split("\n").filter(Boolean)) {
    const [m, rest] = l.split(":");
    out.set(name(m!), new Set((rest ?? "").trim().split(/\s+/).filter(Boolean).map(name)));
  }
  return out;
}

describe.each(["6.1", "6.12"])("modules of Debian %s", (line) => {
  let k: LabKernel;
  let idx: ModuleIndex;
  let oracle: Map<string, Set<string>>;
  beforeAll(async () => {
    k = await fetchKernel(line);
    idx = moduleIndex(k.modulesDir);
    oracle = await depmodOracle(k);
  }, 300_000);

  test("moduleIndex() finds every module busybox depmod lists, and no modules.dep", () => {
    expect(idx.dep).toBeNull();
    expect(new Set(idx.files.keys())).toEqual(new Set(oracle.keys()));
  });

  test("resolveModules() gives busybox depmod's dependencies, each before its user", () => {
    // 6.1: every module; 6.12 (.ko.xz, one xz run per module read): the 40 with the most dependencies
    const names = [...oracle.keys()].sort((a, b) => oracle.get(b)!.size - oracle.get(a)!.size).slice(0, line === "6.1" ? undefined : 40);
    for (const name of names) {
      const got = resolveModules([name], idx);
      expect(got.at(-1)!.name).toBe(name);
      const deps = new Set(got.slice(0, -1).map((m) => m.name));
      const want = oracle.get(name)!;
      // depmod ignores softdep=pre: the only extras allowed are pre-softdeps and their own dependencies
      const softClosure = new Set(got.flatMap((m) => readSoftdeps(m.path)).flatMap((s) => [s, ...(oracle.get(s) ?? [])]));
      for (const d of want) expect(deps.has(d) ? d : `${name} lacks ${d}`).toBe(d);
      for (const x of [...deps].filter((d) => !want.has(d))) expect(softClosure.has(x) ? x : `${name} has extra ${x}`).toBe(x);
      got.forEach((m, i) => m.depends.forEach((d) => expect(idx.builtin.has(d) || got.findIndex((x) => x.name === d) < i).toBe(true)));
    }
  }, 120_000);

  test("resolveModules() drops builtin modules and names a missing one", () => {
    const builtin = [...idx.builtin][0]!;
    expect(resolveModules([builtin], idx)).toEqual([]);
    expect(() => resolveModules(["no_such_module_x"], idx)).toThrow(/no_such_module_x is neither built in nor in/);
  });

  test("modinfo() reads the same strings as readelf -p .modinfo", async () => {
    const path = idx.files.get("virtio_blk")!;
    const plain = join(scratch, `${line}-virtio_blk.ko`);
    writeFileSync(plain, moduleBytes(path));
    const dump = (await $`readelf -p .modinfo ${plain}`.quiet()).stdout.toString();
    const want = [...dump.matchAll(/^\s*\[\s*[0-9a-f]+\]\s+(.*)$/gm)].map((m) => m[1]!.trim());
    const got = modinfo(moduleBytes(path)).map(([key, v]) => `${key}=${v}`.trim());
    expect(got).toEqual(want);
    for (const d of moduleDepends(modinfo(moduleBytes(path)))) expect([...oracle.get("virtio_blk")!]).toContain(d);
  });
});

function readSoftdeps(path: string): string[] {
  return modinfo(moduleBytes(path))
    .filter(([key]) => key === "softdep")
    .flatMap(([, v]) => v.replace(/post:.*/, "").replace("pre:", "").trim().split(/\s+/));
}

describe("deviceModules() and mountinfo", () => {
  /** A sysfs tree shaped like a virtio disk with a partition, and a dm device over it. */
  function fakeSys(): string {
    const sys = join(scratch, "sys");
    const pci = join(sys, "devices/pci0000:00/0000:00:04.0");
    const disk = join(pci, "virtio2/block/vda");
    mkdirSync(join(disk, "vda1"), { recursive: true });
    writeFileSync(join(disk, "vda1/partition"), "1\n");
    mkdirSync(join(sys, "bus/pci/drivers/virtio-pci"), { recursive: true });
    mkdirSync(join(sys, "bus/virtio/drivers/virtio_blk"), { recursive: true });
    mkdirSync(join(sys, "module/virtio_pci"), { recursive: true });
    mkdirSync(join(sys, "module/virtio_blk"), { recursive: true });
    symlinkSync(join(sys, "module/virtio_pci"), join(sys, "bus/pci/drivers/virtio-pci/module"));
    symlinkSync(join(sys, "module/virtio_blk"), join(sys, "bus/virtio/drivers/virtio_blk/module"));
    symlinkSync(join(sys, "bus/pci/drivers/virtio-pci"), join(pci, "driver"));
    symlinkSync(join(sys, "bus/virtio/drivers/virtio_blk"), join(pci, "virtio2/driver"));
    const dm = join(sys, "devices/virtual/block/dm-0");
    mkdirSync(join(dm, "slaves"), { recursive: true });
    symlinkSync(join(disk, "vda1"), join(dm, "slaves/vda1"));
    mkdirSync(join(sys, "dev/block"), { recursive: true });
    symlinkSync(join(disk, "vda1"), join(sys, "dev/block/254:1"));
    symlinkSync(dm, join(sys, "dev/block/253:0"));
    return sys;
  }

  test("deviceModules() walks a partition up to its disk's drivers, and a dm device through its slaves", () => {
    const sys = fakeSys();
    expect(deviceModules("254:1", sys).sort()).toEqual(["virtio_blk", "virtio_pci"]);
    expect(deviceModules("253:0", sys).sort()).toEqual(["dm_mod", "virtio_blk", "virtio_pci"]);
    expect(deviceModules("0:99", sys)).toEqual([]);
  });

  test("parseMountinfo() and mountOf() find the mount holding a path on this machine", () => {
    const mounts = parseMountinfo(readFileSync("/proc/self/mountinfo", "utf8"));
    const root = mountOf(mounts, "/")!;
    expect(root.mountpoint).toBe("/");
    expect(mountOf(mounts, "/proc/self")!.fstype).toBe("proc");
    expect(mountOf(mounts, "/var/crash")!.mountpoint).toBe(mountOf(mounts, "/var")!.mountpoint);
  });
});
