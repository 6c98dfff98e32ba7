import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatCrashkernel, parseCrashkernel, resolveCrashkernel } from "../../lib/boot/crashkernel.ts";
import { defaultTable, type Estimate, estimateCapture, readRehearsal, recommend, SIZE_TABLES, sizeTable, systemRam } from "../../lib/boot/sizing.ts";
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
    const m = recommend({ ram: 8 * G, measured: { minimum: 200 * M } });
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
      expect(readRehearsal(join(dir, "a.json"))).toMatchObject({ minimum: 192 * M, kernel: "6.1.0-56-cloud-amd64" });
      // What `kdump rehearse --find-min` writes: minimumMiB, null when no size captured.
      writeFileSync(join(dir, "b.json"), JSON.stringify({ kernel: "6.12.117+deb12-cloud-amd64", minimumMiB: 176, trials: [] }));
      expect(readRehearsal(join(dir, "b.json"))).toMatchObject({ minimum: 176 * M, kernel: "6.12.117+deb12-cloud-amd64" });
      writeFileSync(join(dir, "c.json"), JSON.stringify({ kernel: "x", minimumMiB: null, trials: [] }));
      expect(readRehearsal(join(dir, "c.json"))).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("kdump estimate --json estimates from a real Debian kernel and an initramfs, with its reasoning", async () => {
    const k = await fetchKernel("6.1");
    const dir = mkdtempSync(join(tmpdir(), "estimate-"));
    try {
      await Bun.$`mkdir -p ${dir}/r/bin && cp /bin/sh ${dir}/r/bin/sh && cd ${dir}/r && find . | cpio -o -H newc --quiet | gzip > ../initrd.img`.quiet();
      writeFileSync(join(dir, "rehearse.json"), JSON.stringify({ minimum: 160 * M }));
      const r = await Bun.$`${process.execPath} ${KDUMP} estimate --json --kernel ${k.vmlinuz} --initrd ${join(dir, "initrd.img")} --rehearsal ${join(dir, "none.json")}`.quiet();
      const j = JSON.parse(r.stdout.toString());
      const direct = estimateCapture(readFileSync(k.vmlinuz), readFileSync(join(dir, "initrd.img")));
      expect(j.estimate.bytes).toBe(direct.bytes);
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
});
