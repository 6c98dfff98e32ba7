// Where the collector runs when the root is on LUKS: from a sysfs tree with the root on dm-crypt over vda and dump
// targets on a plain XFS disk (vdb) or on another dm-crypt device (vdc), with Debian 6.12's real modules: the plan,
// each refusal's one line, the init's runtime step in busybox sh, and a real stage of this Bun and toolkit.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { $ } from "bun";
import { captureInit } from "../../lib/initramfs/init.ts";
import { moduleIndex, type ModuleIndex } from "../../lib/initramfs/modules.ts";
import { captureStorage, planStorage, type StorageHost } from "../../lib/initramfs/storage.ts";
import { runtimeScript, stageRuntime, targetRuntime, RUNTIME_DIR } from "../../lib/initramfs/target_runtime.ts";
import { collectorPaths } from "../../lib/load/load.ts";
import { fetchKernel } from "../../lib/lab/kernels.ts";
import type { Target } from "../../lib/config/target.ts";

const tmp = mkdtempSync(join(tmpdir(), "kdump-runtime-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let idx: ModuleIndex;
const sys = join(tmp, "sys");
const put = (p: string, text: string) => (mkdirSync(dirname(join(sys, p)), { recursive: true }), writeFileSync(join(sys, p), text + "\n"));
const link = (p: string, target: string) => (mkdirSync(dirname(join(sys, p)), { recursive: true }), symlinkSync(relative(dirname(join(sys, p)), join(sys, target)), join(sys, p)));
const LUKS = "0123456789abcdef0123456789abcdef";
beforeAll(async () => {
  idx = moduleIndex((await fetchKernel("6.12")).modulesDir);
  // vda, vdb, vdc on virtio-blk; dm-0 "root" (LUKS2) on vda, dm-1 "secret" (LUKS2) on vdc
  for (const [i, d] of ["vda", "vdb", "vdc"].entries()) {
    const pci = `devices/pci0000:00/0000:00:0${4 + i}.0`;
    put(`${pci}/modalias`, "pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00");
    put(`${pci}/virtio${i}/modalias`, "virtio:d00000002v00001AF4");
    put(`${pci}/virtio${i}/block/${d}/dev`, `254:${i * 16}`);
    link(`dev/block/254:${i * 16}`, `${pci}/virtio${i}/block/${d}`);
  }
  for (const [n, name, slave] of [[0, "root", "vda"], [1, "secret", "vdc"]] as const) {
    put(`devices/virtual/block/dm-${n}/dev`, `253:${n}`);
    put(`devices/virtual/block/dm-${n}/dm/name`, name);
    put(`devices/virtual/block/dm-${n}/dm/uuid`, `CRYPT-LUKS2-${LUKS}-${name}`);
    link(`devices/virtual/block/dm-${n}/slaves/${slave}`, `devices/pci0000:00/0000:00:0${slave === "vda" ? 4 : 6}.0/virtio${slave === "vda" ? 0 : 2}/block/${slave}`);
    link(`dev/block/253:${n}`, `devices/virtual/block/dm-${n}`);
  }
}, 300_000);

const host: StorageHost = {
  program: (n) => `/usr/sbin/${n}`,
  programFiles: (p) => [[p.slice(1), "/bin/sh"]],
  mdDetail: () => null,
  probe: (dev) => ({ fstype: "xfs", uuid: dev === "/dev/vdb" ? "9a1b2c3d-0000-4000-8000-00000000000f" : "5e5e5e5e-0000-4000-8000-000000000000", label: "" }),
  findDevice: () => null,
};
const ROOT = "22 1 253:0 / / rw,relatime - ext4 /dev/mapper/root rw\n";
const PLAIN = ROOT + "30 22 254:16 / /var/crash rw,relatime - xfs /dev/vdb rw\n";
const SECRET = ROOT + "31 22 253:1 / /var/crash rw,relatime - xfs /dev/mapper/secret rw\n";
const storage = (t: Target, mountinfo: string) => captureStorage(t, mountinfo, idx, 90, host, sys);
const refusal = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  return "no refusal";
};

test("targetRuntime() of a LUKS root with /var/crash on a plain XFS disk: the runtime goes to the target, found by UUID", () => {
  const s = storage({ kind: "dir", path: "/var/crash" }, PLAIN);
  const rt = targetRuntime(s, s.target, false)!;
  expect(rt.dir).toBe(`/var/crash/${RUNTIME_DIR}`);
  expect(rt.mount).toEqual({ spec: "UUID=9a1b2c3d-0000-4000-8000-00000000000f", fstype: "xfs", dir: "/var/crash" });
  expect(rt.locked).toEqual([{ name: "root", luksUuid: "01234567-89ab-cdef-0123-456789abcdef" }]);
  // the capture brings up only the target's stack: no dm-crypt, no ext4 for the root
  const p = planStorage(s.stacks.slice(1), idx, 90, s.targetMount, host);
  expect(p.modules.sort()).toEqual(["virtio_blk", "xfs"]);
  expect(s.plan.modules).toContain("dm_crypt"); // what the whole stack would have needed
});

test("targetRuntime() is null when the root is not encrypted", () => {
  const s = storage({ kind: "dir", path: "/var/crash" }, "22 1 254:0 / / rw - ext4 /dev/vda rw\n30 22 254:16 / /var/crash rw - xfs /dev/vdb rw\n");
  expect(targetRuntime(s, s.target, false)).toBeNull();
});

test("targetRuntime() refuses, in one line, a LUKS root whose dump target is on the root, or a network target, or an unmounted device", () => {
  const onRoot = storage({ kind: "dir", path: "/var/crash" }, ROOT);
  expect(refusal(() => targetRuntime(onRoot, onRoot.target, false))).toBe("the dump target /var/crash is on the root filesystem, which is on an encrypted device (root, LUKS 01234567-89ab-cdef-0123-456789abcdef), which the capture cannot unlock");
  expect(refusal(() => targetRuntime(onRoot, "nfs server:/export", true))).toContain("a network target leaves no local filesystem to run the collector from");
  const away = captureStorage({ kind: "device", spec: "LABEL=dumps", sub: "/", fstype: "xfs" }, ROOT, idx, 90, { ...host, findDevice: () => ({ device: "/dev/vdb", fstype: "xfs", uuid: "u", label: "dumps" }) }, sys);
  expect(refusal(() => targetRuntime(away, away.target, false))).toContain("the dump target LABEL=dumps is not mounted here");
  for (const m of [refusal(() => targetRuntime(onRoot, onRoot.target, false))]) expect(m).not.toContain("\n");
});

test("targetRuntime() refuses a dump target on dm-crypt, with a plain root or a LUKS root alike", () => {
  const s = storage({ kind: "dir", path: "/var/crash" }, SECRET);
  const want = "the dump target /var/crash is on an encrypted device (secret, LUKS 01234567-89ab-cdef-0123-456789abcdef), and no key file is configured to unlock it in the capture";
  expect(refusal(() => targetRuntime(s, s.target, false))).toBe(want);
  const plainRoot = storage({ kind: "dir", path: "/var/crash" }, SECRET.replace("253:0 / / rw,relatime - ext4 /dev/mapper/root", "254:16 / / rw,relatime - ext4 /dev/vdb"));
  expect(refusal(() => targetRuntime(plainRoot, plainRoot.target, false))).toBe(want);
});

test("the init's runtime step mounts nothing of the root, and gives up within its bound when the target does not appear", async () => {
  const s = storage({ kind: "dir", path: "/var/crash" }, PLAIN);
  const rt = targetRuntime(s, s.target, false)!;
  const plan = planStorage(s.stacks.slice(1), idx, 2, s.targetMount, host);
  const text = captureInit({ modules: [], target: s.target, bun: "/usr/local/bin/bun", kdump: "/opt/kdump/kdump.ts", rootWaitSeconds: 30, storage: plan.script + runtimeScript(rt, "/usr/local/bin/bun", 2), runtimeOnTarget: true });
  expect(text).not.toContain("kdump.root=");
  expect(text).toContain("root_up || failed");
  const init = join(tmp, "init");
  writeFileSync(init, text);
  expect((await $`busybox sh -n ${init}`.quiet().nothrow()).exitCode).toBe(0);
  // storage_up and root_up alone, with findfs finding nothing (the XFS disk never appears)
  const fns = `${plan.script}${runtimeScript(rt, "/usr/local/bin/bun", 2)}`;
  const script = join(tmp, "root_up.sh");
  writeFileSync(script, `log() { echo "kdump-capture: $*"; }\nfindfs() { return 1; }\n${fns}\nstorage_up; root_up; echo "rc=$?"\n`);
  const t0 = performance.now();
  const out = (await $`busybox sh ${script}`.quiet().nothrow()).stdout.toString();
  expect(out).toContain("kdump-capture: runtime step failed: UUID=9a1b2c3d-0000-4000-8000-00000000000f did not appear within 2 s of the storage step");
  expect(out).toContain("rc=1");
  expect(performance.now() - t0).toBeLessThan(6000);
}, 30_000);

test("stageRuntime() stages this Bun with its libraries and the toolkit, 0700; again it copies nothing; the staged Bun runs in a chroot", async () => {
  const target = join(tmp, "target");
  const rt = { locked: [], mount: { spec: "UUID=x", fstype: "xfs", dir: target }, dir: join(target, RUNTIME_DIR) };
  const paths = collectorPaths();
  const first = stageRuntime(rt, paths);
  expect(statSync(rt.dir).mode & 0o777).toBe(0o700);
  expect(first.copied).toBeGreaterThan(100);
  for (const p of [paths.bun, paths.kdump, join(paths.kdump, "../node_modules/yargs/package.json"), "lib64/ld-linux-x86-64.so.2", "proc", "dev", "tmp", target.slice(1)]) expect(existsSync(join(rt.dir, p))).toBe(true);
  expect(existsSync(join(rt.dir, join(paths.kdump, "../node_modules/typescript")))).toBe(false);
  expect(stageRuntime(rt, paths).copied).toBe(0);
  // the stage is a root of its own: Bun and its libraries load, and the toolkit's CLI answers (with /proc, as the
  // capture binds it; in a private mount namespace, so the host's mounts are untouched)
  const r = await $`unshare --mount --propagation private sh -c ${`mount -t proc proc ${rt.dir}/proc && chroot ${rt.dir} ${paths.bun} ${paths.kdump} collect --help`}`.quiet().nothrow();
  expect(r.stderr.toString()).toBe("");
  expect(r.stdout.toString()).toContain("--out");
  console.log(`staged ${(first.bytes / 1048576).toFixed(1)} MiB in ${first.seconds.toFixed(2)} s`);
}, 120_000);
