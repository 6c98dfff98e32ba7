import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { parseSetupHeader, protocolText } from "../../../lib/arch/x86_64/setup_header.ts";
import { UsageError } from "../../../lib/errors.ts";
import { fetchKernel } from "../../../lib/lab/kernels.ts";

// Oracles: the package's release (its /lib/modules name) and the kernel's own .config (PHYSICAL_START, PHYSICAL_ALIGN,
// RELOCATABLE, the payload compressor, whose magic must sit where payload_offset points).
const MAGIC: Record<string, number[]> = {
  LZ4: [0x02, 0x21, 0x4c, 0x18], // legacy lz4 frame, as the kernel's Makefile.lib writes it
  ZSTD: [0x28, 0xb5, 0x2f, 0xfd],
  XZ: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00],
  GZIP: [0x1f, 0x8b],
};

describe.each(["6.1", "6.12"])("parseSetupHeader() on Debian's %s vmlinuz", (line) => {
  const load = async () => {
    const k = await fetchKernel(line);
    const image = new Uint8Array(readFileSync(k.vmlinuz));
    const config = readFileSync(k.config!, "utf8");
    const cfg = (name: string) => new RegExp(`^CONFIG_${name}=(.*)$`, "m").exec(config)?.[1];
    return { k, image, cfg, h: parseSetupHeader(image, k.vmlinuz) };
  };

  test("parseSetupHeader() reads the release the Debian package installs the kernel as", async () => {
    const { k, h } = await load();
    expect(h.kernelVersion.split(" ")[0]).toBe(k.release);
    expect(h.kernelVersion).toContain("debian-kernel@lists.debian.org");
  });

  test("parseSetupHeader() agrees with the kernel's .config on placement", async () => {
    const { h, cfg } = await load();
    expect(h.prefAddress).toBe(BigInt(cfg("PHYSICAL_START")!));
    expect(h.kernelAlignment).toBe(Number(cfg("PHYSICAL_ALIGN")));
    expect(h.relocatable).toBe(cfg("RELOCATABLE") === "y");
    expect(h.kernel64).toBe(true);
    expect(h.above4G).toBe(true); // XLF_CAN_BE_LOADED_ABOVE_4G is set for every x86_64 kernel since 3.9
    expect(protocolText(h.version)).toMatch(/^2\.1[2-9]$/);
  });

  test("parseSetupHeader() finds the compressed payload where the configured compressor's magic is", async () => {
    const { image, h, cfg } = await load();
    const comp = Object.keys(MAGIC).find((c) => cfg(`KERNEL_${c}`) === "y")!;
    const at = h.kernelOffset + h.payloadOffset;
    expect([...image.subarray(at, at + MAGIC[comp]!.length)]).toEqual(MAGIC[comp]!);
    expect(at + h.payloadLength).toBeLessThanOrEqual(image.length);
    expect(h.initSize).toBeGreaterThan(image.length - h.kernelOffset); // room to decompress in place
  });
});

describe("parseSetupHeader() on files that are not kernels", () => {
  test.each([
    ["a config file", async () => new TextEncoder().encode(readFileSync((await fetchKernel("6.1")).config!, "utf8")), /no boot signature/],
    ["an empty file", async () => new Uint8Array(0), /too short/],
    ["a boot sector without HdrS", async () => Object.assign(new Uint8Array(4096), { [0x1fe]: 0x55, [0x1ff]: 0xaa }), /"HdrS"/],
  ])("parseSetupHeader() rejects %s with a UsageError that says why", async (_, bytes, why) => {
    const b = await bytes();
    expect(() => parseSetupHeader(b, "x.img")).toThrow(UsageError);
    expect(() => parseSetupHeader(b, "x.img")).toThrow(why);
    expect(() => parseSetupHeader(b, "x.img")).toThrow(/^x\.img is not an x86_64 kernel image/);
  });

  test("parseSetupHeader() rejects a 32-bit-only kernel (no XLF_KERNEL_64)", async () => {
    const image = new Uint8Array(readFileSync((await fetchKernel("6.1")).vmlinuz));
    image[0x236] = 0;
    expect(() => parseSetupHeader(image)).toThrow(/XLF_KERNEL_64/);
  });
});
