// Device tree blobs on QEMU's own arm64 virt DTB (what an arm64 guest's /sys/firmware/fdt holds; qemu dumpdtb
// writes it without booting), read, rewritten and given a capture kernel's /chosen.
import { beforeAll, describe, expect, test } from "bun:test";
import { buildFdt, parseFdt, regValue, rootCells, withCaptureChosen, type Fdt } from "../../../lib/arch/arm64/fdt.ts";
import { virtDtb } from "./_virt_dtb.ts";

const be32 = (b: Uint8Array, i = 0) => new DataView(b.buffer, b.byteOffset).getUint32(i * 4);
const be64 = (b: Uint8Array, i = 0) => new DataView(b.buffer, b.byteOffset).getBigUint64(i * 8);
const text = (b: Uint8Array) => new TextDecoder().decode(b).replace(/\0$/, "");

describe("FDT on QEMU's virt machine tree", () => {
  let dtb: Uint8Array;
  beforeAll(async () => {
    dtb = await virtDtb();
  }, 60_000);

  test("parseFdt() reads the root, the memory node's 1 GiB at 0x40000000 and both CPUs", () => {
    const f = parseFdt(dtb);
    expect(text(f.root.props.get("compatible")!)).toBe("linux,dummy-virt");
    expect(rootCells(f)).toEqual({ address: 2, size: 2 });
    const mem = f.root.children.find((n) => n.name === "memory@40000000")!;
    expect([be64(mem.props.get("reg")!, 0), be64(mem.props.get("reg")!, 1)]).toEqual([0x40000000n, 0x40000000n]);
    const cpus = f.root.children.find((n) => n.name === "cpus")!;
    expect(cpus.children.filter((n) => n.name.startsWith("cpu@")).length).toBe(2);
  });

  test("buildFdt() writes a blob that parses back to the same tree", () => {
    const f = parseFdt(dtb);
    const again = parseFdt(buildFdt(f));
    expect(again).toEqual(f);
    expect(be32(buildFdt(f), 5)).toBe(17); // version
  });

  test("withCaptureChosen() sets elfcorehdr, usable-memory-range, bootargs and the initrd in the root's cells", () => {
    const f: Fdt = withCaptureChosen(parseFdt(dtb), {
      elfcorehdr: [0x7bbff000n, 0x1000n],
      usableMemory: [0x6bc00000n, 0x10000000n],
      bootargs: "console=ttyAMA0 nr_cpus=1",
      initrd: [0x70000000n, 0x70200000n],
    });
    const chosen = parseFdt(buildFdt(f)).root.children.find((n) => n.name === "chosen")!;
    const hdr = chosen.props.get("linux,elfcorehdr")!;
    expect([be64(hdr, 0), be64(hdr, 1)]).toEqual([0x7bbff000n, 0x1000n]);
    const usable = chosen.props.get("linux,usable-memory-range")!;
    expect([be64(usable, 0), be64(usable, 1)]).toEqual([0x6bc00000n, 0x10000000n]);
    expect(text(chosen.props.get("bootargs")!)).toBe("console=ttyAMA0 nr_cpus=1");
    expect(be64(chosen.props.get("linux,initrd-start")!)).toBe(0x70000000n);
    expect(chosen.props.has("kaslr-seed")).toBe(false);
    expect(chosen.props.has("rng-seed")).toBe(false);
  });

  test("regValue() follows #address-cells/#size-cells (2/1 here)", () => {
    const f = parseFdt(dtb);
    f.root.props.set("#size-cells", new Uint8Array([0, 0, 0, 1]));
    const r = regValue(f, 0x123456789n, 0x1000n);
    expect(r.length).toBe(12);
    expect([be32(r, 0), be32(r, 1), be32(r, 2)]).toEqual([1, 0x23456789, 0x1000]);
  });

  test("parseFdt() refuses what is not a whole DTB", () => {
    expect(() => parseFdt(new Uint8Array(20))).toThrow(RangeError);
    expect(() => parseFdt(new Uint8Array(64))).toThrow("not a device tree blob");
    expect(() => parseFdt(dtb.subarray(0, 2000))).toThrow(RangeError);
  });
});
