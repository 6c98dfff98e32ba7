// The arm64 purgatory's build and parameter block. Oracles: the cross compiler (the checked-in bytes are what the
// sources build to, and where the linker put `params`), the host's gcc running the same sha256.c against Bun's
// SHA-256, and QEMU virt's own DTB for the console UART. The lab boots it: test/arch/arm64/pipeline.test.ts (a capture
// passes the check) and test/arch/arm64/purgatory_tamper.test.ts (a tampered segment is refused).
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $ } from "bun";
import { parseFdt, type Fdt, type FdtNode } from "../../../lib/arch/arm64/fdt.ts";
import { ARM64_PURGATORY_MAX_REGIONS, arm64Purgatory, arm64PurgatoryImage, regionsDigest, stdoutPl011 } from "../../../lib/arch/arm64/purgatory.ts";
import { ARM64_PURGATORY_DIR, buildArm64Purgatory, crossCompiler } from "../../../lib/arch/arm64/purgatory/build.ts";
import { ARM64_PURGATORY_COMPILER } from "../../../lib/arch/arm64/purgatory/purgatory_blob.ts";
import { virtDtb } from "./_virt_dtb.ts";

const compiler = await crossCompiler();
const hostGcc = (await $`gcc --version`.quiet().nothrow()).exitCode === 0;
const dir = mkdtempSync(join(tmpdir(), "arm64-purgatory-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// the same compiler version rebuilds the same bytes; another may schedule instructions differently
describe.if(compiler === ARM64_PURGATORY_COMPILER)("arm64 purgatory build (needs gcc-aarch64-linux-gnu)", () => {
  test("purgatory_blob.ts holds exactly what entry.S, purgatory.c and sha256.c build to (bun lib/arch/arm64/purgatory/build.ts)", async () => {
    const { bin } = await buildArm64Purgatory();
    expect(Buffer.compare(Buffer.from(bin), Buffer.from(arm64PurgatoryImage()))).toBe(0);
  });

  test("the linker puts the entry at 0 and params at 8, where arm64Purgatory() writes; the mismatch path ends in a wfe loop", async () => {
    const { symbols } = await buildArm64Purgatory();
    expect(symbols.get("_start")).toBe(0);
    expect(symbols.get("params")).toBe(8);
    const p = new DataView(arm64Purgatory({ kernel: 0x60200000n, dtb: 0x6e000000n, uart: 0x9000000n, regions: [{ addr: 0x60000000n, data: new Uint8Array([1, 2, 3]) }] }).buffer);
    expect(p.getBigUint64(8 + 0x08, true)).toBe(0x60200000n);
    expect(p.getBigUint64(8 + 0x10, true)).toBe(0x6e000000n);
    expect(p.getBigUint64(8 + 0x18, true)).toBe(0x9000000n);
    const file = join(dir, "purgatory.bin");
    await Bun.write(file, arm64PurgatoryImage());
    const asm = (await $`aarch64-linux-gnu-objdump -D -b binary -m aarch64 ${file}`.quiet()).stdout.toString();
    // `wfe` followed by a branch back to it: once refused, the CPU never leaves
    expect(asm).toMatch(/\n\s+([0-9a-f]+):\s+d503205f\s+wfe\n\s+[0-9a-f]+:\s+[0-9a-f]{8}\s+b\s+0x\1\n/);
  });
});

describe.if(hostGcc)("sha256.c on the host", () => {
  test("sha256.c computes SHA-256 like Bun at every padding boundary and on 3 MiB, fed in uneven pieces", async () => {
    const exe = join(dir, "harness");
    await $`gcc -O2 -o ${exe} ${join(ARM64_PURGATORY_DIR, "harness.c")} ${join(ARM64_PURGATORY_DIR, "sha256.c")}`.quiet();
    for (const n of [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 3 << 20]) {
      const input = crypto.getRandomValues(new Uint8Array(Math.min(n, 65536)));
      const data = n > 65536 ? new Uint8Array(n).map((_, i) => input[i % input.length]! ^ (i >> 16)) : input;
      const out = (await $`${exe} < ${new Response(data)}`.quiet()).stdout.toString();
      expect(`${n}: ${out}`).toBe(`${n}: ${new Bun.CryptoHasher("sha256").update(data).digest("hex")}`);
    }
  });
});

describe("arm64 purgatory parameters", () => {
  test("arm64Purgatory() stores the regions in order and one SHA-256 over their bytes, and refuses more than it holds", () => {
    const regions = [
      { addr: 0x60200000n, data: new TextEncoder().encode("ab") },
      { addr: 0x6e000000n, data: new TextEncoder().encode("c") },
    ];
    const bin = arm64Purgatory({ kernel: 1n, dtb: 2n, uart: null, regions });
    const v = new DataView(bin.buffer);
    expect(v.getBigUint64(8 + 0x18, true)).toBe(0n); // no UART: silent
    expect(v.getBigUint64(8 + 0x20, true)).toBe(2n);
    expect([v.getBigUint64(8 + 0x48, true), v.getBigUint64(8 + 0x50, true), v.getBigUint64(8 + 0x58, true), v.getBigUint64(8 + 0x60, true)]).toEqual([0x60200000n, 2n, 0x6e000000n, 1n]);
    // SHA-256("abc"), FIPS 180-4's first example: the regions are hashed as one message
    expect(Buffer.from(bin.subarray(8 + 0x28, 8 + 0x48)).toString("hex")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(Buffer.from(regionsDigest(regions)).toString("hex")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(arm64PurgatoryImage()[8 + 0x20]).toBe(0); // the checked-in image is not patched
    const many = Array.from({ length: ARM64_PURGATORY_MAX_REGIONS + 1 }, (_, i) => ({ addr: BigInt(i) << 12n, data: new Uint8Array(1) }));
    expect(() => arm64Purgatory({ kernel: 1n, dtb: 2n, uart: null, regions: many })).toThrow("at most 16 regions, got 17");
  });

  test("stdoutPl011() finds QEMU virt's console PL011 from /chosen stdout-path", async () => {
    const fdt = parseFdt(await virtDtb());
    expect(new TextDecoder().decode(fdt.root.children.find((n) => n.name === "chosen")!.props.get("stdout-path")!)).toBe("/pl011@9000000\0");
    expect(stdoutPl011(fdt)).toBe(0x9000000n);
  }, 120_000);

  test("stdoutPl011() follows an alias, ignores options, and gives null for no stdout-path, another UART or a translated bus", () => {
    const te = new TextEncoder();
    const be = (...cells: number[]) => new Uint8Array(cells.flatMap((c) => [c >>> 24, (c >> 16) & 255, (c >> 8) & 255, c & 255]));
    const node = (name: string, props: Record<string, Uint8Array>, children: FdtNode[] = []): FdtNode => ({ name, props: new Map(Object.entries(props)), children });
    const uart = (compatible: string, reg: Uint8Array) => node("serial@1c28000", { compatible: te.encode(`${compatible}\0arm,primecell\0`), reg });
    const tree = (stdout: string | null, soc: FdtNode): Fdt => ({
      root: node("", { "#address-cells": be(2), "#size-cells": be(2) }, [
        node("chosen", stdout === null ? {} : { "stdout-path": te.encode(`${stdout}\0`) }),
        node("aliases", { serial0: te.encode("/soc/serial@1c28000\0") }),
        soc,
      ]),
      reserved: [],
      bootCpu: 0,
    });
    const soc = (ranges: Uint8Array, child: FdtNode) => node("soc", { "#address-cells": be(1), "#size-cells": be(1), ranges }, [child]);
    expect(stdoutPl011(tree("serial0:115200n8", soc(new Uint8Array(0), uart("arm,pl011", be(0x1c28000, 0x1000)))))).toBe(0x1c28000n);
    expect(stdoutPl011(tree("/soc/serial@1c28000", soc(new Uint8Array(0), uart("arm,pl011", be(0x1c28000, 0x1000)))))).toBe(0x1c28000n);
    expect(stdoutPl011(tree(null, soc(new Uint8Array(0), uart("arm,pl011", be(0x1c28000, 0x1000)))))).toBeNull();
    expect(stdoutPl011(tree("serial0", soc(new Uint8Array(0), uart("snps,dw-apb-uart", be(0x1c28000, 0x1000)))))).toBeNull();
    expect(stdoutPl011(tree("serial0", soc(be(0, 0, 0x1000000, 0x1000000), uart("arm,pl011", be(0x1c28000, 0x1000)))))).toBeNull();
  });
});
