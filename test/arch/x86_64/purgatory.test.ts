import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { patchPurgatory, purgatoryImage } from "../../../lib/arch/x86_64/purgatory.ts";
import { assemble, PURGATORY_DIR } from "../../../lib/arch/x86_64/purgatory/build.ts";
import { removeScratch, scratchDir } from "../../_scratch.ts";

afterAll(removeScratch);

// Oracles: GNU as/objcopy (the checked-in bytes are what the source assembles to), the assembler's symbol table
// (where the parameter block fields are), and Bun's SHA-256 (what the assembly's SHA-256 must compute).
describe("purgatory", () => {
  const dir = scratchDir("kdump-purgatory-test-");

  test("purgatory.bin is exactly what purgatory.s assembles to (reproducible build)", async () => {
    const built = await assemble();
    expect(Buffer.compare(Buffer.from(built), readFileSync(join(PURGATORY_DIR, "purgatory.bin")))).toBe(0);
  });

  test("patchPurgatory() writes each parameter where the assembler put its symbol", async () => {
    const obj = join(dir, "p.o");
    await Bun.$`as --64 -I ${PURGATORY_DIR} -o ${obj} ${join(PURGATORY_DIR, "purgatory.s")}`.quiet();
    const sym = Object.fromEntries(
      (await Bun.$`nm ${obj}`.quiet()).stdout.toString().trim().split("\n").map((l) => l.split(" ")).map(([a, , n]) => [n, Number.parseInt(a!, 16)]),
    );
    const data = new TextEncoder().encode("abc");
    const p = patchPurgatory(purgatoryImage(), { entry: 0x1122334455667788n, bootParams: 0x3e000000n, serial: true, regions: [{ addr: 0x2f000000n, data }] });
    const v = new DataView(p.buffer);
    expect(v.getBigUint64(sym.entry!, true)).toBe(0x1122334455667788n);
    expect(v.getBigUint64(sym.boot_params!, true)).toBe(0x3e000000n);
    expect(v.getBigUint64(sym.flags!, true)).toBe(1n);
    expect(v.getBigUint64(sym.nr_regions!, true)).toBe(1n);
    expect(v.getBigUint64(sym.regions!, true)).toBe(0x2f000000n);
    expect(v.getBigUint64(sym.regions! + 8, true)).toBe(3n);
    expect(Buffer.from(p.subarray(sym.regions! + 16, sym.regions! + 48)).toString("hex")).toBe(new Bun.CryptoHasher("sha256").update(data).digest("hex"));
    expect(new TextDecoder().decode(p.subarray(sym.magic!, sym.magic! + 8))).toBe("KDPURG01");
    expect(sym.start).toBe(0); // the crashed kernel jumps to offset 0
  });

  test("sha256.s computes SHA-256 like Bun at every padding boundary and on 3 MiB", async () => {
    const obj = join(dir, "h.o");
    const exe = join(dir, "harness");
    await Bun.$`as --64 -I ${PURGATORY_DIR} -o ${obj} ${join(PURGATORY_DIR, "harness.s")} && ld -static -o ${exe} ${obj}`.quiet();
    for (const n of [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 3 << 20]) {
      const data = crypto.getRandomValues(new Uint8Array(Math.min(n, 65536)));
      const input = n > 65536 ? new Uint8Array(n).map((_, i) => data[i % data.length]! ^ (i >> 16)) : data;
      const out = (await Bun.$`${exe} < ${new Response(input)}`.quiet()).stdout;
      expect(`${n}: ${Buffer.from(out).toString("hex")}`).toBe(`${n}: ${new Bun.CryptoHasher("sha256").update(input).digest("hex")}`);
    }
  });
});
