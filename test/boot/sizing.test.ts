import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatCrashkernel, parseCrashkernel, resolveCrashkernel } from "../../lib/boot/crashkernel.ts";
import { boxIdentity } from "../../lib/boot/setup.ts";
import { defaultTable, type Estimate, estimateCapture, readRehearsal, recommend, rehearsalApplies, SIZE_TABLES, sizeTable, systemRam } from "../../lib/boot/sizing.ts";
import { savedBy } from "../../lib/lab/rehearse.ts";
import { fetchKernel } from "../../lib/lab/kernels.ts";

const M = 2 ** 20;
const G = 2 ** 30;
const KDUMP = join(import.meta.dir, "..", "..", "kdump.ts");

// A 1 GiB QEMU guest's /proc/iomem (Debian 6.1, crashkernel=256M), as the lab prints it.
const IOMEM = `00000000-00000fff : Reserved
00001000-0009fbff : System RAM
0009fc00-0009ffff : Reserved
000f0000-000fffff : Reserved
00100000-3ffdffff : System RAM
  01000000-01e01a56 : Kernel code
  2e000000-3dffffff : Crash kernel
3ffe0000-3fffffff : Reserved
`;

describe("sizing", () => {
  test("systemRam() sums the System RAM ranges; the kernel's 128M rounding makes this guest 1G", () => {
    const ram = systemRam(IOMEM);
    expect(ram).toBe(0x9fbff - 0x1000 + 1 + (0x3ffdffff - 0x100000 + 1));
    expect(Math.ceil(ram / (128 * M)) * 128 * M).toBe(G);
    expect(systemRam(IOMEM.replace(/[0-9a-f]{8}/g, "00000000"))).toBe(0);
  });

  test("every table parses as a crashkernel= range list and resolves like the distributions document", () => {
    for (const t of SIZE_TABLES) expect(parseCrashkernel(formatCrashkernel(parseCrashkernel(t.value)))).toEqual(parseCrashkernel(t.value));
    const at = (name: string, ram: number) => resolveCrashkernel([parseCrashkernel(sizeTable(name)!.value)], ram).size;
    expect([at("kdump-utils-x86_64", G), at("kdump-utils-x86_64", 8 * G), at("kdump-utils-x86_64", 128 * G)]).toEqual([0, 256 * M, 512 * M]);
    expect(at("kdump-utils-x86_64-2021", 2 * G)).toBe(192 * M);
    expect([at("debian", G), at("ubuntu", 3 * G), at("ubuntu", 16 * G)]).toEqual([128 * M, 320 * M, 512 * M]);
    expect(defaultTable("arm64").name).toBe("kdump-utils-aarch64");
    expect(defaultTable("x64").name).toBe("kdump-utils-x86_64");
  });

  test("recommend() prefers a measurement, then an estimate, then the table, and says why", () => {
    const est: Estimate = {
      kernel: { bytes: 52 * M, from: "bzImage init_size" },
      initrd: { bytes: 60 * M, unpacked: 100 * M, modules: 10 * M, moduleCount: 4, formats: ["zstd"] },
      initrdTerm: 260 * M,
      runtime: 16 * M,
      bytes: 338 * M,
    };
    const table = recommend({ ram: 8 * G });
    expect([table.from, formatCrashkernel(table.value!)]).toEqual(["table", "2G-64G:256M,64G-:512M"]);
    const e = recommend({ ram: 8 * G, estimate: est });
    expect([e.from, formatCrashkernel(e.value!)]).toEqual(["estimate", "338M"]);
    expect(e.reasoning).toContain("estimate: kernel 52.0M (bzImage init_size) + modules 10.0M (4 in the initramfs) + initramfs 260.0M (max of 3 × 60.0M file, file + 2 × 100.0M unpacked) + runtime 16.0M = 338M");
    const measured = { minimum: 200 * M, via: "collector" as const, kernel: "6.1.0-56-cloud-amd64", memoryMiB: 8192 };
    const m = recommend({ ram: 8 * G - 3 * M, release: "6.1.0-56-cloud-amd64", measured });
    expect([m.from, formatCrashkernel(m.value!)]).toEqual(["measured", "256M"]); // 200M + 25%, up to 16M
    const none = recommend({ ram: G });
    expect(none.value).toBeNull();
    expect(none.reasoning.at(-1)).toContain("give --size");
  });

  test("readRehearsal() reads bytes or a size string, and nothing when the file is absent", () => {
    const dir = mkdtempSync(join(tmpdir(), "rehearse-"));
    try {
      expect(readRehearsal(join(dir, "none.json"))).toBeNull();
      writeFileSync(join(dir, "a.json"), JSON.stringify({ minimum: "192M", kernel: "6.1.0-56-cloud-amd64", memoryMiB: 1024 }));
      expect(readRehearsal(join(dir, "a.json"))).toMatchObject({ minimum: 192 * M, kernel: "6.1.0-56-cloud-amd64", via: "unknown" });
      // What `kdump rehearse --find-min` writes: minimumMiB, null when no size captured.
      writeFileSync(join(dir, "b.json"), JSON.stringify({ kernel: "6.12.117+deb12-cloud-amd64", minimumMiB: 176, trials: [] }));
      expect(readRehearsal(join(dir, "b.json"))).toMatchObject({ minimum: 176 * M, kernel: "6.12.117+deb12-cloud-amd64" });
      writeFileSync(join(dir, "c.json"), JSON.stringify({ kernel: "x", minimumMiB: null, trials: [] }));
      expect(readRehearsal(join(dir, "c.json"))).toBeNull();
      // What it writes now: the collector's minimum, the path, the RAM, and the dd fallback's minimum apart.
      writeFileSync(join(dir, "d.json"), JSON.stringify({ kernel: "k", memoryMiB: 1024, path: "collector", minimumMiB: 112, ddMinimumMiB: 80 }));
      expect(readRehearsal(join(dir, "d.json"))).toMatchObject({ minimum: 112 * M, via: "collector", ddMinimum: 80 * M, memoryMiB: 1024 });
      writeFileSync(join(dir, "e.json"), JSON.stringify({ kernel: "k", memoryMiB: 1024, path: "collector", minimumMiB: null, ddMinimumMiB: 80 }));
      expect(readRehearsal(join(dir, "e.json"))).toMatchObject({ minimum: 80 * M, via: "dd" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("kdump estimate --json estimates from a real Debian kernel and an initramfs, with its reasoning", async () => {
    const k = await fetchKernel("6.1");
    const dir = mkdtempSync(join(tmpdir(), "estimate-"));
    try {
      await Bun.$`mkdir -p ${dir}/r/bin && cp /bin/sh ${dir}/r/bin/sh && cd ${dir}/r && find . | cpio -o -H newc --quiet | gzip > ../initrd.img`.quiet();
      const box = boxIdentity();
      writeFileSync(join(dir, "rehearse.json"), JSON.stringify({ minimum: 160 * M, path: "collector", kernel: box.release, memoryMiB: Math.ceil(box.ram / M) }));
      const r = await Bun.$`${process.execPath} ${KDUMP} estimate --json --kernel ${k.vmlinuz} --initrd ${join(dir, "initrd.img")} --rehearsal ${join(dir, "none.json")}`.quiet();
      const j = JSON.parse(r.stdout.toString());
      const direct = estimateCapture(readFileSync(k.vmlinuz), readFileSync(join(dir, "initrd.img")), box.ram);
      expect(j.estimate.bytes).toBe(direct.bytes);
      // the runtime term is our collector's forecast for this box's RAM, not kdump-utils' flat 16 MiB
      expect(j.estimate.collector.ram).toBe(box.ram);
      expect(j.estimate.runtime).toBe(8 * M + j.estimate.collector.bytes);
      expect(j.estimate.kernel.from).toBe("bzImage init_size");
      expect(j.estimate.initrd.unpacked).toBe(Bun.file("/bin/sh").size);
      expect(j.reasoning.some((l: string) => l.startsWith("estimate: kernel "))).toBe(true);
      const m = await Bun.$`${process.execPath} ${KDUMP} estimate --rehearsal ${join(dir, "rehearse.json")}`.quiet();
      expect(m.stdout.toString()).toContain("measured:  160M");
      expect(m.stdout.toString()).toContain("chosen:    crashkernel=208M (from the measurement)");
      expect(existsSync(join(dir, "none.json"))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120000);

  // Issue 12: estimate and status took the newest rehearse-min-*.json for any kernel and RAM, dd passes included.
  test("recommend() applies a rehearsal only for the same kernel release and RAM (128M rounding) and the collector's path", () => {
    const r = { minimum: 112 * M, via: "collector" as const, kernel: "6.12.117+deb12-cloud-amd64", memoryMiB: 1024 };
    const box = { release: "6.12.117+deb12-cloud-amd64", ram: 1023.6 * M }; // a 1 GiB guest's System RAM
    expect(rehearsalApplies(r, box).applies).toBe(true);
    expect(rehearsalApplies(r, { ...box, release: "6.1.0-56-cloud-amd64" })).toEqual({ applies: false, why: "it was measured on kernel 6.12.117+deb12-cloud-amd64, this box runs 6.1.0-56-cloud-amd64" });
    expect(rehearsalApplies(r, { ...box, ram: 2 * G }).why).toBe("it was measured with 1G RAM, this box has 2G");
    expect(rehearsalApplies({ ...r, via: "dd" }, box).why).toContain("only through the busybox dd fallback");
    expect(rehearsalApplies({ ...r, via: "unknown" }, box).applies).toBe(false);
    expect(rehearsalApplies({ ...r, memoryMiB: undefined }, box).applies).toBe(false);

    const used = recommend({ ram: box.ram, release: box.release, measured: r });
    expect([used.from, used.measuredApplies, formatCrashkernel(used.value!)]).toEqual(["measured", true, "144M"]);
    const other = recommend({ ram: 8 * G, release: box.release, measured: r });
    expect([other.from, other.measuredApplies, formatCrashkernel(other.value!)]).toEqual(["table", false, "2G-64G:256M,64G-:512M"]);
    expect(other.reasoning).toContain("measured: a rehearsal captured by the collector with 112M (6.12.117+deb12-cloud-amd64, 1024 MiB guest): shown, not applied: it was measured with 1G RAM, this box has 8G");
    const dd = recommend({ ram: box.ram, release: box.release, measured: { ...r, minimum: 80 * M, via: "dd" } });
    expect([dd.from, dd.measuredApplies]).toEqual([null, false]); // the 2G- table reserves nothing on 1G either
    expect(dd.reasoning.find((l) => l.startsWith("measured:"))).toContain("only by the busybox dd fallback with 80M");
  });

  test("savedBy() tells the collector's capture from the busybox dd fallback's in a capture console", () => {
    expect(savedBy("kdump-capture: root /dev/vda1 mounted\nkdump-capture: saved by the collector\nkdump-capture: rebooting")).toBe("collector");
    expect(savedBy("kdump-capture: 40000 kB available is below 47104 kB for the collector: copying with busybox dd\nkdump-capture: saved /var/crash/localhost-2026-11-23-10:00:00/vmcore by busybox dd")).toBe("dd");
    expect(savedBy("kdump-capture: saving the dump failed")).toBeNull();
  });
});
