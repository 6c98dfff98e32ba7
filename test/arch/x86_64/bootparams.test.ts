import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { buildBootParams, captureE820, E820 } from "../../../lib/arch/x86_64/bootparams.ts";
import type { CrashMachine } from "../../../lib/load/crash_machine.ts";
import { labMachine, reservation } from "../../load/_crash_machine.ts";
import { parseSetupHeader } from "../../../lib/arch/x86_64/setup_header.ts";
import { fetchKernel } from "../../../lib/lab/kernels.ts";
import { labDump } from "../../lab/dumps.ts";

function machine(): CrashMachine {
  return labMachine();
}

describe("boot_params", () => {
  test("captureE820() gives the capture kernel the map the kernel's own crash loader gives it", async () => {
    // Oracle: the capture kernel's "BIOS-e820" lines after a kexec_file_load crash on the same guest (labDump).
    const ref = await labDump({ line: "6.1", scenario: "sysrq" });
    const capture = ref.console.slice(ref.console.lastIndexOf("Command line: elfcorehdr="));
    const hdr = BigInt(/elfcorehdr=(0x[0-9a-f]+)/.exec(capture)![1]!);
    const lines = [...capture.matchAll(/BIOS-e820: \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\] (usable|reserved|ACPI data|ACPI NVS)/g)];
    const kernel = lines.map((m) => ({ addr: BigInt(m[1]!), size: BigInt(m[2]!) - BigInt(m[1]!) + 1n, type: { usable: 1, reserved: 2, "ACPI data": 3, "ACPI NVS": 4 }[m[3]!]! }));
    const afterHdr = kernel.find((e) => e.addr > hdr && e.type === E820.RAM)!.addr; // the kernel's elfcorehdr ends there
    expect(captureE820({ ...machine(), crash: reservation(ref.console) }, [{ start: hdr, end: afterHdr - 1n }])).toEqual(kernel);
  });

  test("buildBootParams() copies the setup header and points at the kernel, initrd and command line", async () => {
    const image = new Uint8Array(readFileSync((await fetchKernel("6.12")).vmlinuz));
    const header = parseSetupHeader(image);
    const e820 = captureE820(machine(), []);
    const bp = buildBootParams({ image, header, kernelAddr: 0x2f000000n, initrd: { addr: 0x32378000n, size: 0x228c00 }, cmdlineAddr: 0x1_325a6000n, e820, running: null });
    const v = new DataView(bp.buffer);
    expect(bp.length).toBe(4096);
    expect(Buffer.from(bp.subarray(0x202, 0x206)).toString()).toBe("HdrS");
    expect([...bp.subarray(0x1f1, 0x210)]).toEqual([...image.subarray(0x1f1, 0x210)]);
    expect(v.getUint16(0x206, true)).toBe(header.version);
    expect(v.getUint32(0x260, true)).toBe(header.initSize);
    expect(v.getUint32(0x214, true)).toBe(0x2f000000); // code32_start
    expect([v.getUint32(0x218, true), v.getUint32(0x21c, true), v.getUint32(0x0c0, true)]).toEqual([0x32378000, 0x228c00, 0]);
    expect([v.getUint32(0x228, true), v.getUint32(0x0c8, true)]).toEqual([0x325a6000, 1]); // cmd_line_ptr, ext_cmd_line_ptr
    expect(bp[0x1e8]).toBe(e820.length);
    expect(v.getBigUint64(0x2d0 + 20 * 4, true)).toBe(e820[4]!.addr);
    expect(v.getUint32(0x2d0 + 20 * 4 + 16, true)).toBe(e820[4]!.type);
    expect(bp[0x1ef]).toBe(0); // sentinel: a clean zero page, not a copy of the whole boot sector
  });
});
