// `kdump load` planning and loading against a fake host (never this machine's kernel), with Debian's real 6.1
// kernel, config and modules. The real load, in a guest, is in test/lab/load.test.ts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bootCpuApicId, formatPlan, load, planLoad, unload } from "../../lib/load/load.ts";
import { paramValue, splitCmdline } from "../../lib/load/cmdline.ts";
import { errorLine } from "../../lib/errors.ts";
import { KEXEC_FILE } from "../../lib/sys/kexec.ts";
import { fetchKernel, type LabKernel } from "../../lib/lab/kernels.ts";
import { errnoOf, fakeHost } from "./_fakehost.ts";
import { $ } from "bun";

const MiB = 1048576;
const scratch = mkdtempSync(join(tmpdir(), "kdump-load-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let k: LabKernel;
beforeAll(async () => {
  k = await fetchKernel("6.1");
}, 300_000);

/** The /proc and /sys of a 6.1 guest booted with crashkernel=`reserved` and its root on /dev/vda (0:99: no sysfs). */
function guest(reserved: number | null, extra: Record<string, string> = {}): Record<string, string> {
  return {
    "/proc/sys/kernel/osrelease": `${k.release}\n`,
    "/proc/cmdline": "console=ttyS0 root=/dev/vda rw panic=5 crashkernel=256M quiet\n",
    "/proc/self/mountinfo": "22 1 0:99 / / rw,relatime - ext4 /dev/vda rw\n23 22 0:21 / /proc rw - proc proc rw\n",
    "/proc/cpuinfo": "processor\t: 0\napicid\t\t: 4\ninitial apicid\t: 4\n\nprocessor\t: 1\napicid\t\t: 5\n",
    [`/boot/config-${k.release}`]: readFileSync(k.config!, "utf8"),
    ...(reserved === null ? {} : { "/sys/kernel/kexec_crash_size": `${reserved}\n` }),
    ...extra,
  };
}

const opts = () => ({ kernel: k.vmlinuz, modulesDir: k.modulesDir, cacheDir: scratch, modules: ["virtio_blk"] });

describe("planLoad()", () => {
  test("planLoad() plans the running kernel, our zstd initramfs with the module and its dependencies, and the capture cmdline", () => {
    const p = planLoad(opts(), fakeHost(guest(256 * MiB)));
    expect(p.mode).toBe("crash");
    expect(p.image!.release).toBe(k.release);
    expect(p.initramfs!.codec).toBe("zstd");
    expect(p.modules).toEqual(["virtio_ring", "virtio", "virtio_blk"]);
    const w = splitCmdline(p.cmdline);
    expect(paramValue(w, "kdump.root")).toBe("/dev/vda");
    expect(paramValue(w, "disable_cpu_apicid")).toBe("4");
    expect(w).not.toContain("quiet");
    expect(p.loadBytes).toBe(p.image!.initSize + p.initrdBytes);
    expect(p.minBytes).toBeGreaterThan(p.loadBytes + p.initramfs!.cpioBytes);
    expect(p.needBytes).toBeGreaterThan(p.minBytes);
    expect(p.warnings).toEqual([]);
    expect(formatPlan(p)).toContain(`${(256).toFixed(1)} MiB reserved`);
  });

  test("planLoad() forecasts the collector's memory for the box's RAM (/proc/iomem) and says what the reservation leaves it", () => {
    const iomem = (gib: number) => `00001000-0009fbff : System RAM\n00100000-${(gib * 2 ** 30 - 1).toString(16)} : System RAM\n`;
    const small = planLoad(opts(), fakeHost(guest(256 * MiB, { "/proc/iomem": iomem(1) })));
    const big = planLoad(opts(), fakeHost(guest(256 * MiB, { "/proc/iomem": iomem(64) })));
    expect(big.collector.bitmaps).toBeGreaterThan(3.9 * MiB); // 2 bits per 4 KiB frame
    expect(big.collector.bitmaps).toBeLessThan(4 * MiB);
    expect(big.needBytes - small.needBytes).toBe(big.collector.bytes - small.collector.bytes);
    expect(big.collector.workers).toBe(0); // nr_cpus=1 on the capture command line: compression runs inline
    const line = formatPlan(big).split("\n").find((l) => l.startsWith("collector:"))!;
    expect(line).toContain("for 64 GiB of RAM (base 46.0 MiB + bitmaps 3.9 MiB)");
    expect(line).toContain(`the reservation leaves it ~${((256 * MiB - (big.needBytes - big.collector.bytes)) / MiB).toFixed(1)} MiB`);
  });

  test("planLoad() applies the box's config: target, collector settings, hooks and actions in the init, command-line edits, extra modules; the config's files are named", async () => {
    const files: Record<string, string> = {
      "/etc/kdump.conf": "path /var/crash/x\ncore_collector makedumpfile -c -d 1\nkdump_post /usr/local/sbin/post\nfinal_action poweroff\nextra_modules virtio_net\n",
      "/etc/sysconfig/kdump": 'KDUMP_COMMANDLINE_APPEND="kdump.test=1"\nKDUMP_COMMANDLINE_REMOVE="console"\n',
    };
    const host = { ...fakeHost(guest(256 * MiB)), configFs: { read: (f: string) => files[f] ?? null, list: () => null, mode: () => null } };
    const p = planLoad({ ...opts(), modules: [] }, host);
    expect(p.target).toBe("/var/crash/x");
    expect(p.config!.sources).toEqual(["/etc/sysconfig/kdump", "/etc/kdump.conf"]);
    expect(p.modules).toContain("virtio_net");
    const w = splitCmdline(p.cmdline);
    expect(paramValue(w, "kdump.test")).toBe("1");
    expect(paramValue(w, "console")).toBeUndefined();
    const init = (await $`zstd -dc ${p.initrd!} | cpio -i --to-stdout init`.quiet().nothrow()).stdout.toString();
    expect(init).toContain("TARGET='/var/crash/x'\nCOLLECT_ARGS='--level 1 --compress zlib --format kdump'\n");
    expect(init).toContain("POST_HOOKS='/usr/local/sbin/post'\nFAILURE_ACTION=reboot\nFINAL_ACTION=poweroff\n");
    expect(formatPlan(p)).toContain("config:      /etc/sysconfig/kdump, /etc/kdump.conf;");
  });

  test("planLoad() refuses a config target the capture cannot write yet, at its directive, and --target overrides it", () => {
    const files: Record<string, string> = { "/etc/default/kdump-tools": "KDUMP_COREDIR=/dumps\nHOSTTAG=ip\n" };
    const host = { ...fakeHost(guest(256 * MiB)), configFs: { read: (f: string) => files[f] ?? null, list: () => null, mode: () => null } };
    expect(() => planLoad(opts(), host)).toThrow("/etc/default/kdump-tools:2: HOSTTAG=ip is not supported yet");
    expect(planLoad({ ...opts(), target: "/var/crash" }, host).target).toBe("/var/crash");
  });

  test("planLoad() loads when kdump-tools says USE_KDUMP=0, with a warning naming the line", () => {
    const files: Record<string, string> = { "/etc/default/kdump-tools": "# off\nUSE_KDUMP=0\n" };
    const host = { ...fakeHost(guest(256 * MiB)), configFs: { read: (f: string) => files[f] ?? null, list: () => null, mode: () => null } };
    expect(planLoad(opts(), host).warnings).toEqual(["/etc/default/kdump-tools:2: USE_KDUMP=0 says not to arm kdump at boot; loading anyway, as asked"]);
  });

  test("planLoad() warns when nothing is reserved, when the load cannot fit, and when a capture may run short", () => {
    expect(planLoad(opts(), fakeHost(guest(0))).warnings.join()).toMatch(/no memory is reserved/);
    expect(planLoad(opts(), fakeHost(guest(48 * MiB))).warnings.join()).toMatch(/to load does not fit the 48\.0 MiB reserved/);
    expect(planLoad(opts(), fakeHost(guest(64 * MiB))).warnings.join()).toMatch(/64\.0 MiB reserved leaves the capture kernel too little to boot/);
    expect(planLoad(opts(), fakeHost(guest(96 * MiB))).warnings.join()).toMatch(/96\.0 MiB reserved is below the ~.* the Bun collector needs: .* busybox dd/);
  });

  test("planLoad() --kexec keeps /proc/cmdline with the user's edits and loads no capture initramfs", () => {
    const p = planLoad({ ...opts(), kexec: true, append: ["kdump.test=1"], remove: ["quiet"] }, fakeHost(guest(null)));
    expect(p.mode).toBe("kexec");
    expect(p.initramfs).toBeNull();
    expect(p.cmdline).toBe("console=ttyS0 root=/dev/vda rw panic=5 crashkernel=256M kdump.test=1");
  });

  test("planLoad() of a file that is not a kernel says so and still plans (the kernel answers ENOEXEC)", () => {
    const p = planLoad({ ...opts(), kernel: "/etc/hostname", kexec: true }, fakeHost(guest(null)));
    expect(p.image).toBeNull();
    expect(p.warnings.join()).toMatch(/not a bzImage/);
  });

  test("bootCpuApicId() takes the first apicid of /proc/cpuinfo", () => {
    expect(bootCpuApicId(readFileSync("/proc/cpuinfo", "utf8"))).toBe(Number(/^apicid\s*:\s*(\d+)/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1]));
    expect(bootCpuApicId(null)).toBeUndefined();
  });
});

describe("load()", () => {
  test("load() --dry-run calls nothing", () => {
    const h = fakeHost(guest(256 * MiB));
    expect(load({ ...opts(), dryRun: true }, h).loaded).toBe(false);
    expect(h.loads).toEqual([]);
    expect(h.writes).toEqual([]);
  });

  test("load() passes ON_CRASH, the initramfs and the planned cmdline, then sets kernel.panic_on_oops", () => {
    const h = fakeHost(guest(256 * MiB));
    const r = load(opts(), h);
    expect(r.loaded).toBe(true);
    expect(h.loads).toHaveLength(1);
    expect(h.loads[0]!.flags).toBe(KEXEC_FILE.ON_CRASH);
    expect(h.loads[0]!.initrdFd).toBeGreaterThan(2);
    expect(h.loads[0]!.cmdline).toBe(`${r.plan.cmdline}\0`);
    expect(h.writes).toEqual([["/proc/sys/kernel/panic_on_oops", "1"]]);
  });

  test("load() --kexec without an initramfs loads with NO_INITRAMFS and no ON_CRASH, and leaves panic_on_oops alone", () => {
    const h = fakeHost(guest(null));
    load({ ...opts(), kexec: true }, h);
    expect(h.loads[0]!.flags).toBe(KEXEC_FILE.NO_INITRAMFS);
    expect(h.writes).toEqual([]);
  });

  test.each([
    ["EADDRNOTAVAIL", 48 * MiB, {}, /does not fit the reservation: kernel 51\.5 MiB \+ initramfs .* 48 MiB reserved: raise crashkernel= to at least \d+M/],
    ["EADDRNOTAVAIL", 0, {}, /no memory is reserved for a capture kernel: boot with crashkernel=/],
    ["EPERM", 256 * MiB, { uid: 1000 }, /not root \(uid 1000\)/],
    ["EPERM", 256 * MiB, { "/proc/sys/kernel/kexec_load_disabled": "1\n" }, /kexec_load_disabled=1/],
    ["EPERM", 256 * MiB, { "/sys/kernel/security/lockdown": "none [integrity] confidentiality\n" }, /lockdown is "integrity"/],
    ["EKEYREJECTED", 256 * MiB, {}, /signature .* was rejected/],
    ["ENOSYS", 256 * MiB, {}, /CONFIG_KEXEC_FILE is off/],
  ] as const)("load() explains %s from the kernel with what this host shows", (errno, reserved, extra, re) => {
    const { uid, ...files } = extra as Record<string, string> & { uid?: number };
    const h = fakeHost(guest(reserved, files), { kexecFails: errno, uid: uid as number | undefined });
    let e: unknown;
    try {
      load(opts(), h);
    } catch (x) {
      e = x;
    }
    expect(errorLine(e)).toMatch(re);
    expect(h.writes).toEqual([]); // panic_on_oops is set only after a successful load
  });

  test("unload() unloads the capture kernel, or the staged one with --kexec", () => {
    const h = fakeHost({});
    unload({}, h);
    unload({ kexec: true }, h);
    expect(h.loads.map((l) => l.flags)).toEqual([KEXEC_FILE.UNLOAD | KEXEC_FILE.ON_CRASH, KEXEC_FILE.UNLOAD]);
  });

  test("unload() falls back to kexec_load with no segments on a kernel without KEXEC_FILE (ENOSYS)", () => {
    const h = fakeHost({}, { kexecFails: "ENOSYS" });
    const calls: { entry: bigint; nr: number; segments: Uint8Array | null; flags: number }[] = [];
    h.kexecLoad = { kexecLoad: (entry, nr, segments, flags) => (calls.push({ entry, nr, segments, flags }), { ret: 0n, errno: 0 }) };
    unload({}, h);
    unload({ kexec: true }, h);
    expect(calls).toEqual([
      { entry: 0n, nr: 0, segments: null, flags: 0x1 | (62 << 16) },
      { entry: 0n, nr: 0, segments: null, flags: 62 << 16 },
    ]);
  });

  test("unload() reports kexec_load's own error when the fallback fails too", () => {
    const h = fakeHost({}, { kexecFails: "ENOSYS" });
    h.kexecLoad = { kexecLoad: () => ({ ret: -1n, errno: errnoOf("EPERM") }) };
    expect(() => unload({}, h)).toThrow(/kexec_load failed with EPERM/);
  });

  test("unload() does not fall back on a permission error", () => {
    const h = fakeHost({}, { kexecFails: "EPERM" });
    let called = false;
    h.kexecLoad = { kexecLoad: () => ((called = true), { ret: 0n, errno: 0 }) };
    expect(() => unload({}, h)).toThrow(/kexec_file_load failed with EPERM/);
    expect(called).toBe(false);
  });
});
