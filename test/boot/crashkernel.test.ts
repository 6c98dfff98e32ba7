import { describe, expect, test } from "bun:test";
import {
  crashkernelWords,
  formatCrashkernel,
  formatSize,
  parseCrashkernel,
  parseSize,
  resolveCrashkernel,
  withCrashkernel,
} from "../../lib/boot/crashkernel.ts";
import { ConfigSyntaxError } from "../../lib/boot/parse_error.ts";

const M = 2 ** 20;
const G = 2 ** 30;

// Expected values come from the kernel: memparse() in lib/cmdline.c (C number notation + KMGTPE suffixes),
// and Documentation/admin-guide/kdump/kdump.rst ("crashkernel=512M-2G:64M,2G-:128M": nothing below 512M,
// 64M from 512M to 2G exclusive, 128M from 2G; "crashkernel=64M@16M" reserves 64M at 0x01000000).
// The lab test at the end checks the resolution against a booted kernel.
describe("crashkernel grammar", () => {
  test.each([
    ["256M", 256 * M],
    ["256m", 256 * M],
    ["1G", G],
    ["0x10000000", 256 * M],
    ["0x1e", 30], // the e is a hex digit, not the exa suffix
    ["010", 8], // a leading 0 is octal, as in C
    ["4k", 4096],
    ["2T", 2 * 2 ** 40],
  ])("parseSize() reads %s like memparse()", (text, bytes) => {
    expect(parseSize(text)?.value).toBe(bytes);
  });

  test("formatSize() prints the largest exact unit and round-trips through parseSize()", () => {
    for (const b of [256 * M, 1536 * M, G, 4096, 12345, 64 * 2 ** 40]) expect(parseSize(formatSize(b))!.value).toBe(b);
    expect(formatSize(1536 * M)).toBe("1536M");
    expect(formatSize(64 * G)).toBe("64G");
  });

  test.each([
    "256M",
    "64M@16M",
    "512M-2G:64M,2G-:128M",
    "2G-64G:256M,64G-:512M",
    "1G-4G:192M,4G-64G:256M,64G-:512M@16M",
    "1G,high",
    "256M,low",
    "256M,cma",
  ])("parseCrashkernel() and formatCrashkernel() round-trip %s", (v) => {
    expect(formatCrashkernel(parseCrashkernel(v))).toBe(v);
  });

  test("parseCrashkernel() reads size@offset with the offset as an address", () => {
    expect(parseCrashkernel("64M@16M")).toEqual({ kind: "size", size: 64 * M, offset: 0x01000000n });
  });

  test("parseCrashkernel() reads an open-ended last range", () => {
    const a = parseCrashkernel("512M-2G:64M,2G-:128M");
    expect(a).toEqual({
      kind: "ranges",
      offset: null,
      ranges: [
        { start: 512 * M, end: 2 * G, size: 64 * M },
        { start: 2 * G, end: null, size: 128 * M },
      ],
    });
  });

  test.each([
    ["", 1, "empty value"],
    ["256Q", 4, 'unexpected "Q"'],
    ["2G-64G;256M,64G-:512M", 7, '":" expected'],
    ["2G:256M", 3, '"-" expected'],
    ["4G-2G:256M", 4, "range end is not above its start"],
    ["2G-:", 5, "a size (like 256M) expected"],
    ["256M@", 6, "a size (like 256M) expected"],
    ["2G-4G:256M,high", 3, "before ,high"],
    ["256M,hi", 5, 'unexpected ","'],
  ])("parseCrashkernel(%p) fails at column %d", (v, column, what) => {
    let err: unknown;
    try {
      parseCrashkernel(v, { source: "grub", line: 3, column: 1 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigSyntaxError);
    const e = err as ConfigSyntaxError;
    expect([e.lineNo, e.column]).toEqual([3, column]);
    expect(e.message).toContain(what);
    expect(e.message.startsWith(`grub:3:${column}: `)).toBe(true);
  });

  test("crashkernelWords() finds every crashkernel= word with its column on the line", () => {
    const line = "ro quiet crashkernel=1G,high crashkernel=256M,low";
    const w = crashkernelWords(line);
    expect(w.map((x) => formatCrashkernel(x.arg))).toEqual(["1G,high", "256M,low"]);
    expect(line.slice(w[1]!.start, w[1]!.end)).toBe("crashkernel=256M,low");
    expect(() => crashkernelWords("ro crashkernel=2G-x:1G")).toThrow("command line:1:19:");
  });

  test("withCrashkernel() puts the new value where the first one was and keeps the rest as it was", () => {
    const v = [parseCrashkernel("256M")];
    expect(withCrashkernel("", v)).toBe("crashkernel=256M");
    expect(withCrashkernel("quiet", v)).toBe("quiet crashkernel=256M");
    expect(withCrashkernel("crashkernel=128M quiet  splash", v)).toBe("crashkernel=256M quiet  splash");
    expect(withCrashkernel("$GRUB_CMDLINE_LINUX_DEFAULT crashkernel=384M-:128M", [])).toBe("$GRUB_CMDLINE_LINUX_DEFAULT");
    expect(withCrashkernel(" a crashkernel=1G,high b crashkernel=256M,low ", v)).toBe(" a crashkernel=256M b ");
    expect(withCrashkernel("ro crashkernel=256M quiet", v)).toBe("ro crashkernel=256M quiet");
    const two = [parseCrashkernel("1G,high"), parseCrashkernel("256M,low")];
    expect(withCrashkernel("ro", two)).toBe("ro crashkernel=1G,high crashkernel=256M,low");
  });
});

describe("resolveCrashkernel()", () => {
  const doc = [parseCrashkernel("512M-2G:64M,2G-:128M")];
  test("follows the kernel documentation's range example", () => {
    expect(resolveCrashkernel(doc, 300 * M).size).toBe(0);
    expect(resolveCrashkernel(doc, 1 * G).size).toBe(64 * M);
    expect(resolveCrashkernel(doc, 8 * G).size).toBe(128 * M);
  });

  test("rounds RAM up to 128M before matching, so 2G minus firmware holes matches 2G-", () => {
    expect(resolveCrashkernel(doc, 2 * G - 17 * M).size).toBe(128 * M);
    expect(resolveCrashkernel(doc, 2 * G - 200 * M).size).toBe(64 * M);
  });

  test("uses the last plain word and ignores ,high when one is present", () => {
    const r = resolveCrashkernel([parseCrashkernel("128M"), parseCrashkernel("1G,high"), parseCrashkernel("192M")], 4 * G);
    expect(r).toMatchObject({ size: 192 * M, high: false });
  });

  test("falls back to ,high with its ,low part; low is null when only the kernel default applies", () => {
    expect(resolveCrashkernel([parseCrashkernel("1G,high"), parseCrashkernel("256M,low")], 16 * G)).toMatchObject({ size: G, high: true, low: 256 * M });
    expect(resolveCrashkernel([parseCrashkernel("1G,high")], 16 * G)).toMatchObject({ size: G, high: true, low: null });
  });

  test("reports nothing reserved for sizes not below RAM, entries not below RAM, and zero", () => {
    expect(resolveCrashkernel([parseCrashkernel("2G")], 2 * G).problem).toContain("not less than the RAM");
    expect(resolveCrashkernel([parseCrashkernel("1G-:4G")], 2 * G).problem).toContain("rejects the whole list");
    expect(resolveCrashkernel([parseCrashkernel("0")], 2 * G).problem).toContain("zero");
    expect(resolveCrashkernel([parseCrashkernel("2G-:256M")], G).problem).toContain("no range covers 1G");
  });

  test("keeps the @offset of a matching range list and the cma size", () => {
    const r = resolveCrashkernel([parseCrashkernel("1G-:256M@64M"), parseCrashkernel("128M,cma")], 4 * G);
    expect(r).toMatchObject({ size: 256 * M, base: 64n * BigInt(M), cma: 128 * M, range: 0 });
  });
});

// The kernel is the oracle: a 1 GiB guest booted with two crashkernel= words reserves what resolveCrashkernel()
// says. 1 GiB less firmware holes rounds up to 1G, so "512M-1G" (end exclusive) does not match and "1G-" does;
// the earlier plain word loses to the later range list.
describe("resolveCrashkernel() against a booted kernel", () => {
  test("a Debian 6.1 guest reserves what resolveCrashkernel() computes from its /proc/iomem", async () => {
    const { fetchKernel } = await import("../../lib/lab/kernels.ts");
    const { runGuest } = await import("../../lib/lab/qemu.ts");
    const { systemRam } = await import("../../lib/boot/sizing.ts");
    const kernel = await fetchKernel("6.1");
    const cmdline = "crashkernel=64M crashkernel=512M-1G:96M,1G-:160M";
    const r = await runGuest({ kernel, cmdline, memoryMiB: 1024, job: "echo SIZE $(cat /sys/kernel/kexec_crash_size); echo IOMEM-BEGIN; cat /proc/iomem; echo IOMEM-END" });
    try {
      expect(r.timedOut).toBe(false);
      const size = Number(/^SIZE (\d+)$/m.exec(r.console)![1]);
      const iomem = /IOMEM-BEGIN\n([\s\S]*?)IOMEM-END/.exec(r.console)![1]!;
      const want = resolveCrashkernel(crashkernelWords(cmdline).map((w) => w.arg), systemRam(iomem));
      expect(want).toMatchObject({ size: 160 * M, range: 1 });
      expect(size).toBe(want.size);
    } finally {
      r.cleanup();
    }
  }, 180_000);
});
