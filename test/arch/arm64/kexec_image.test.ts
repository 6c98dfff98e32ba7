// The arm64 layout of a kernel staged for `kdump exec` (kexec_load without KEXEC_ON_CRASH) on Debian's newest arm64
// Image and QEMU's virt DTB (what an arm64 guest's /sys/firmware/fdt holds), for a synthetic 1 GiB machine: where
// each segment goes and what the staged kernel's /chosen says. The lab test boots it (test/arch/arm64/exec.test.ts).
import { beforeAll, describe, expect, test } from "bun:test";
import { ARM64 } from "../../../lib/arch/arm64/arch.ts";
import { buildFdt, parseFdt, withCaptureChosen } from "../../../lib/arch/arm64/fdt.ts";
import { planArm64KexecImage } from "../../../lib/arch/arm64/kexec_image.ts";
import { parseArm64Image } from "../../../lib/arch/arm64/image.ts";
import { X86_64 } from "../../../lib/arch/x86_64/arch.ts";
import { UsageError } from "../../../lib/errors.ts";
import { parseIomem } from "../../../lib/load/crash_machine.ts";
import { newestImageAndDtb } from "./_virt_dtb.ts";

const IOMEM = `09000000-09000fff : pl011@9000000
40000000-7fffffff : System RAM
  40210000-4199ffff : Kernel code
  60000000-6fffffff : Crash kernel
`;

const be64 = (b: Uint8Array, i = 0) => new DataView(b.buffer, b.byteOffset).getBigUint64(i * 8);

describe("arm64 kexec_load layout of a staged kernel", () => {
  let image: Uint8Array;
  let dtb: Uint8Array;
  beforeAll(async () => {
    ({ image, dtb } = await newestImageAndDtb());
  }, 600_000);

  test("planArm64KexecImage() puts the Image at the bottom of System RAM on a 2 MiB boundary, then initrd, DTB and purgatory, in order, the entry being the purgatory", () => {
    const initrd = new Uint8Array(3 << 20).fill(7);
    const img = planArm64KexecImage({ kernel: image, initrd, cmdline: "console=ttyAMA0", iomem: parseIomem(IOMEM), dtb });
    expect(img.segments.map((s) => s.name)).toEqual(["kernel", "initrd", "dtb", "purgatory"]);
    const k = img.segments[0]!;
    expect(k.mem).toBe(0x40000000n + parseArm64Image(image)!.textOffset);
    expect(k.memsz).toBeGreaterThanOrEqual(Number(parseArm64Image(image)!.imageSize));
    for (const [a, b] of img.segments.slice(0, -1).map((s, i) => [s, img.segments[i + 1]!] as const)) expect(a.mem + BigInt(a.memsz)).toBeLessThanOrEqual(b.mem);
    for (const s of img.segments) {
      expect(s.mem % 4096n).toBe(0n);
      expect(s.mem + BigInt(s.memsz) - 1n).toBeLessThanOrEqual(0x7fffffffn);
      expect(s.data.length).toBeLessThanOrEqual(s.memsz);
    }
    expect(img.entry).toBe(img.segments[3]!.mem);
    expect(ARM64.planKexecImage).toBe(planArm64KexecImage);
    expect(X86_64.planKexecImage).toBeUndefined(); // x86_64 stages with kexec_file_load
  });

  test("the staged DTB's /chosen has the new command line and initrd, and none of a capture kernel's properties nor the old seeds", () => {
    // a running capture-style /chosen (as a capture kernel's own /sys/firmware/fdt has) must not leak into the staged one
    const running = buildFdt(withCaptureChosen(parseFdt(dtb), { elfcorehdr: [0x6f000000n, 4096n], usableMemory: [0x60000000n, 0x10000000n], bootargs: "old" }));
    const chosenOf = (b: Uint8Array) => parseFdt(b).root.children.find((n) => n.name === "chosen")!;
    const img = planArm64KexecImage({ kernel: image, initrd: new Uint8Array(8192), cmdline: "console=ttyAMA0 kdump.lab=staged", iomem: parseIomem(IOMEM), dtb: running });
    const seg = (n: string) => img.segments.find((s) => s.name === n)!;
    const chosen = chosenOf(seg("dtb").data);
    expect(new TextDecoder().decode(chosen.props.get("bootargs")!)).toBe("console=ttyAMA0 kdump.lab=staged\0");
    expect([be64(chosen.props.get("linux,initrd-start")!), be64(chosen.props.get("linux,initrd-end")!)]).toEqual([seg("initrd").mem, seg("initrd").mem + 8192n]);
    for (const p of ["linux,elfcorehdr", "linux,usable-memory-range", "kaslr-seed", "rng-seed"]) expect(chosen.props.has(p)).toBe(false);
    // the rest of the tree is the running one: memory, cpus, the UART
    expect(parseFdt(seg("dtb").data).root.children.map((n) => n.name).sort()).toEqual(parseFdt(running).root.children.map((n) => n.name).sort());
    const none = planArm64KexecImage({ kernel: image, initrd: null, cmdline: "x", iomem: parseIomem(IOMEM), dtb });
    expect(none.segments.map((s) => s.name)).toEqual(["kernel", "dtb", "purgatory"]);
    expect(chosenOf(none.segments[1]!.data).props.has("linux,initrd-start")).toBe(false);
  });

  test("planArm64KexecImage() takes the next System RAM range when the first is too small, and refuses a bzImage, no DTB and no room, saying what to do", () => {
    const two = parseIomem("40000000-40ffffff : System RAM\n80000000-bfffffff : System RAM\n");
    expect(planArm64KexecImage({ kernel: image, initrd: null, cmdline: "", iomem: two, dtb }).segments[0]!.mem).toBe(0x80000000n + parseArm64Image(image)!.textOffset);
    expect(() => planArm64KexecImage({ kernel: new Uint8Array(4096), initrd: null, cmdline: "", iomem: parseIomem(IOMEM), dtb, kernelName: "bz" })).toThrow(/bz is not an arm64 kernel/);
    expect(() => planArm64KexecImage({ kernel: image, initrd: null, cmdline: "", iomem: parseIomem(IOMEM), dtb: null })).toThrow(/no \/sys\/firmware\/fdt/);
    const tiny = parseIomem("40000000-40ffffff : System RAM\n");
    expect(() => planArm64KexecImage({ kernel: image, initrd: new Uint8Array(1 << 20), cmdline: "", iomem: tiny, dtb })).toThrow(UsageError);
    expect(() => planArm64KexecImage({ kernel: image, initrd: null, cmdline: "", iomem: tiny, dtb })).toThrow(/no System RAM range in \/proc\/iomem holds the \d+ MiB kernel/);
  });
});
