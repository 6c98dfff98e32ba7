// The arm64 kexec_load layout on Debian's newest arm64 Image and QEMU's virt DTB (what an arm64 guest's
// /sys/firmware/fdt holds), for a synthetic 1 GiB machine with a 256 MiB reservation: where each segment goes, what
// the capture kernel's /chosen says, and what the purgatory checks and jumps to. The lab test boots it (test/lab/arm64_load.test.ts).
import { beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ARM64 } from "../../../lib/arch/arm64/arch.ts";
import { planArm64CrashImage } from "../../../lib/arch/arm64/crash_image.ts";
import { parseFdt } from "../../../lib/arch/arm64/fdt.ts";
import { parseArm64Image } from "../../../lib/arch/arm64/image.ts";
import { X86_64 } from "../../../lib/arch/x86_64/arch.ts";
import { UsageError } from "../../../lib/errors.ts";
import { type CrashMachine, kcoreLayout, parseIomem } from "../../../lib/load/crash_machine.ts";
import { withFileLoadImage } from "../../../lib/load/file_image.ts";
import { newestImageAndDtb } from "./_virt_dtb.ts";

const IOMEM = `09000000-09000fff : pl011@9000000
40000000-7fffffff : System RAM
  40210000-4199ffff : Kernel code
  60000000-6fffffff : Crash kernel
`;

const be64 = (b: Uint8Array, i = 0) => new DataView(b.buffer, b.byteOffset).getBigUint64(i * 8);
const le = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

function machine(dtb: Uint8Array | null): CrashMachine {
  return {
    iomem: parseIomem(IOMEM),
    crash: { start: 0x60000000n, end: 0x6fffffffn },
    cpuNotes: [{ addr: 0x7fd01000n, size: 400 }, { addr: 0x7fd21000n, size: 400 }],
    vmcoreinfo: { addr: 0x41e00000n, size: 4096 },
    kernelText: { virt: 0xffff800080000000n, phys: 0x40200000n, size: 0x2000000 },
    pageOffset: 0xffff00003fe00000n - 0x40000000n,
    bootParams: null,
    dtb,
  };
}

describe("arm64 kexec_load layout", () => {
  let image: Uint8Array;
  let dtb: Uint8Array;
  beforeAll(async () => {
    ({ image, dtb } = await newestImageAndDtb());
  }, 600_000);

  test("planArm64CrashImage() puts the Image on a 2 MiB boundary with image_size bytes, then initrd, elfcorehdr, DTB and purgatory, all inside the reservation", () => {
    const initrd = new Uint8Array(3 << 20).fill(7);
    const img = planArm64CrashImage({ kernel: image, initrd, cmdline: "console=ttyAMA0 nr_cpus=1", machine: machine(dtb) });
    expect(img.segments.map((s) => s.name)).toEqual(["kernel", "initrd", "elfcorehdr", "dtb", "purgatory"]);
    const k = img.segments[0]!;
    expect(k.mem % (2n << 20n)).toBe(0n);
    expect(k.memsz).toBeGreaterThanOrEqual(Number(parseArm64Image(image)!.imageSize));
    for (const [a, b] of img.segments.slice(0, -1).map((s, i) => [s, img.segments[i + 1]!] as const)) expect(a.mem + BigInt(a.memsz)).toBeLessThanOrEqual(b.mem);
    for (const s of img.segments) {
      expect(s.mem % 4096n).toBe(0n);
      expect(s.mem).toBeGreaterThanOrEqual(0x60000000n);
      expect(s.mem + BigInt(s.memsz) - 1n).toBeLessThanOrEqual(0x6fffffffn);
      expect(s.data.length).toBeLessThanOrEqual(s.memsz);
    }
    expect(img.entry).toBe(img.segments[4]!.mem);
  });

  test("the capture DTB's /chosen names the elfcorehdr, the reservation as usable memory, the initrd and the command line; KASLR seeds are dropped", () => {
    const initrd = new Uint8Array(8192);
    const img = planArm64CrashImage({ kernel: image, initrd, cmdline: "console=ttyAMA0 nr_cpus=1", machine: machine(dtb) });
    const seg = (n: string) => img.segments.find((s) => s.name === n)!;
    const chosen = parseFdt(seg("dtb").data).root.children.find((n) => n.name === "chosen")!;
    expect([be64(chosen.props.get("linux,elfcorehdr")!, 0), be64(chosen.props.get("linux,elfcorehdr")!, 1)]).toEqual([seg("elfcorehdr").mem, BigInt(seg("elfcorehdr").memsz)]);
    expect([be64(chosen.props.get("linux,usable-memory-range")!, 0), be64(chosen.props.get("linux,usable-memory-range")!, 1)]).toEqual([0x60000000n, 0x10000000n]);
    expect([be64(chosen.props.get("linux,initrd-start")!), be64(chosen.props.get("linux,initrd-end")!)]).toEqual([seg("initrd").mem, seg("initrd").mem + 8192n]);
    expect(new TextDecoder().decode(chosen.props.get("bootargs")!)).toBe("console=ttyAMA0 nr_cpus=1\0");
    expect(chosen.props.has("kaslr-seed")).toBe(false);
    expect(chosen.props.has("rng-seed")).toBe(false);
    expect(img.cmdline).not.toContain("elfcorehdr="); // arm64 capture kernels read it from the DTB
  });

  test("the elfcorehdr is an AArch64 core header: notes, kernel text, and RAM outside the reservation", () => {
    const img = planArm64CrashImage({ kernel: image, initrd: null, cmdline: "", machine: machine(dtb) });
    const h = le(img.segments.find((s) => s.name === "elfcorehdr")!.data);
    expect(h.getUint16(18, true)).toBe(183); // e_machine: EM_AARCH64
    const phdrs = Array.from({ length: h.getUint16(56, true) }, (_, i) => ({ type: h.getUint32(64 + i * 56, true), paddr: h.getBigUint64(64 + i * 56 + 24, true), vaddr: h.getBigUint64(64 + i * 56 + 16, true), size: h.getBigUint64(64 + i * 56 + 32, true) }));
    expect(phdrs.filter((p) => p.type === 4).length).toBe(3);
    const loads = phdrs.filter((p) => p.type === 1);
    expect(loads[0]).toEqual({ type: 1, paddr: 0x40200000n, vaddr: 0xffff800080000000n, size: 0x2000000n });
    expect(loads.slice(1).map((p) => [p.paddr, p.size, p.vaddr - p.paddr])).toEqual([
      [0x40000000n, 0x20000000n, 0xffff00003fe00000n - 0x40000000n],
      [0x70000000n, 0x10000000n, 0xffff00003fe00000n - 0x40000000n],
    ]);
    expect(img.segments.some((s) => s.name === "initrd")).toBe(false);
  });

  test("the purgatory is told the Image's and the DTB's addresses, QEMU virt's PL011, and the SHA-256 of every other segment in order", () => {
    const initrd = new Uint8Array(5000).fill(3);
    const img = planArm64CrashImage({ kernel: image, initrd, cmdline: "console=ttyAMA0", machine: machine(dtb) });
    const seg = (n: string) => img.segments.find((s) => s.name === n)!;
    const p = le(seg("purgatory").data);
    // struct params (purgatory.c, its offsets pinned there by _Static_assert) sits at 8, after `b start`
    expect(p.getUint32(0, true) >>> 26).toBe(0b000101); // B imm26
    expect(new TextDecoder().decode(seg("purgatory").data.subarray(8, 16))).toBe("KDPARM01");
    expect(p.getBigUint64(8 + 0x08, true)).toBe(seg("kernel").mem);
    expect(p.getBigUint64(8 + 0x10, true)).toBe(seg("dtb").mem);
    expect(p.getBigUint64(8 + 0x18, true)).toBe(0x9000000n); // /chosen stdout-path = "/pl011@9000000"
    const checked = img.segments.filter((s) => s.name !== "purgatory");
    expect(checked.map((s) => s.name)).toEqual(["kernel", "initrd", "elfcorehdr", "dtb"]);
    expect(p.getBigUint64(8 + 0x20, true)).toBe(4n);
    checked.forEach((s, i) => {
      expect(p.getBigUint64(8 + 0x48 + i * 16, true)).toBe(s.mem);
      expect(p.getBigUint64(8 + 0x48 + i * 16 + 8, true)).toBe(BigInt(s.data.length));
    });
    const h = new Bun.CryptoHasher("sha256");
    for (const s of checked) h.update(s.data);
    expect(Buffer.from(seg("purgatory").data.subarray(8 + 0x28, 8 + 0x48)).toString("hex")).toBe(h.digest("hex"));
    expect(img.entry).toBe(seg("purgatory").mem);
  });

  test("planArm64CrashImage() refuses a reservation too small, a bzImage, and a machine without a DTB, saying what to do", () => {
    const small = { ...machine(dtb), crash: { start: 0x60000000n, end: 0x61ffffffn } };
    expect(() => planArm64CrashImage({ kernel: image, initrd: null, cmdline: "", machine: small })).toThrow(/does not fit the reservation: kernel would end/);
    expect(() => planArm64CrashImage({ kernel: new Uint8Array(4096), initrd: null, cmdline: "", machine: machine(dtb), kernelName: "bz" })).toThrow(UsageError);
    expect(() => planArm64CrashImage({ kernel: image, initrd: null, cmdline: "", machine: machine(null) })).toThrow("no /sys/firmware/fdt");
  });

  test("withFileLoadImage() gives arm64's kexec_file_load the Image inside a gzip'd kernel as a 0600 file it removes after, and a plain Image as it is", () => {
    const dir = mkdtempSync(join(tmpdir(), "fileimage-"));
    try {
      const gz = join(dir, "vmlinuz.gz");
      writeFileSync(gz, Bun.gzipSync(image as Uint8Array<ArrayBuffer>));
      let seen = "";
      const size = withFileLoadImage(gz, ARM64, (p) => {
        seen = p;
        expect(statSync(p).mode & 0o777).toBe(0o600);
        expect(statSync(join(p, "..")).mode & 0o777).toBe(0o700);
        expect(parseArm64Image(readFileSync(p))).not.toBeNull();
        return statSync(p).size;
      });
      expect(size).toBe(image.length);
      expect(() => statSync(seen)).toThrow();
      const plain = join(dir, "Image");
      writeFileSync(plain, image);
      expect(withFileLoadImage(plain, ARM64, (p) => p)).toBe(plain);
      expect(withFileLoadImage(gz, X86_64, (p) => p)).toBe(gz); // a bzImage is loaded as it is
      expect(ARM64.kexecFileImage!(image).memBytes).toBe(Number(parseArm64Image(image)!.imageSize));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test("kcoreLayout() with arm64's kimage start takes the segment above _PAGE_END(48) as kernel text and the linear map below", () => {
  const phdrs = [
    { vaddr: 0xffff800000000000n, paddr: 0xffffffffffffffffn, size: 0x1000n }, // vmalloc: no physical address
    { vaddr: 0xffff800080000000n, paddr: 0x40200000n, size: 0x2000000n }, // KCORE_TEXT
    { vaddr: 0xffff000000000000n, paddr: 0x40000000n, size: 0x40000000n }, // KCORE_RAM
  ];
  const b = new Uint8Array(64 + 56 * phdrs.length);
  const v = le(b);
  v.setUint32(0, 0x7f454c46, false);
  v.setBigUint64(0x20, 64n, true);
  v.setUint16(0x36, 56, true);
  v.setUint16(0x38, phdrs.length, true);
  phdrs.forEach((p, i) => {
    const o = 64 + i * 56;
    v.setUint32(o, 1, true);
    v.setBigUint64(o + 0x10, p.vaddr, true);
    v.setBigUint64(o + 0x18, p.paddr, true);
    v.setBigUint64(o + 0x28, p.size, true);
  });
  expect(kcoreLayout(b, ARM64.kimageStart)).toEqual({ kernelText: { virt: 0xffff800080000000n, phys: 0x40200000n, size: 0x2000000 }, pageOffset: 0xffff000000000000n - 0x40000000n });
});
