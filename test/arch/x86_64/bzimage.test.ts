// The setup header of Debian's real bzImages; file(1)'s own reading of the header is the oracle for the version.
import { describe, expect, test } from "bun:test";
import { $ } from "bun";
import { readBzImage } from "../../../lib/arch/x86_64/bzimage.ts";
import { fetchKernel } from "../../../lib/lab/kernels.ts";

describe.each(["6.1", "6.12"])("readBzImage() on Debian %s", (line) => {
  test("readBzImage() reads the release and version string file(1) prints, and a 64-bit relocatable entry", async () => {
    const k = await fetchKernel(line);
    const img = readBzImage(k.vmlinuz)!;
    const file = (await $`file -b ${k.vmlinuz}`.quiet()).stdout.toString();
    expect(file).toContain(`version ${img.version}`);
    expect(img.release).toBe(k.release);
    expect(img.kernel64).toBe(true);
    expect(img.relocatable).toBe(true);
    expect(img.cmdlineMax).toBe(2047); // COMMAND_LINE_SIZE - 1 on x86
    expect(img.initSize).toBeGreaterThan(img.fileBytes); // decompressed and with bss it needs more than the file
  }, 300_000);
});

test("readBzImage() returns null for a file that is not a bzImage", () => {
  expect(readBzImage("/etc/hostname")).toBeNull();
  expect(readBzImage(process.execPath)).toBeNull();
});
