// openKernel() turns a dump into typed reads of kernel virtual memory: strings and integers at kernel addresses,
// reads across page boundaries, and a clear error for a dump without VMCOREINFO.
import { beforeAll, describe, expect, test } from "bun:test";
import { MissingDataError } from "../../lib/errors.ts";
import { ElfDump } from "../../lib/dump/elf.ts";
import { openDump } from "../../lib/dump/open.ts";
import { BufferSource } from "../../lib/dump/source.ts";
import { openKernel } from "../../lib/kernel/open.ts";
import type { KernelView } from "../../lib/kernel/view.ts";
import { elfCore } from "../dump/_elfwriter.ts";
import { LINES, sysrqDump } from "../dump/_peers.ts";
import { FakeKernel } from "./_fakekernel.ts";

describe.each(LINES)("openKernel() on a %s crash", (line) => {
  let k: KernelView;
  let release: string;
  beforeAll(async () => {
    const lab = await sysrqDump(line);
    release = lab.kernel.release;
    k = openKernel(openDump(lab.vmcore));
  }, 900_000);

  test("cstring() reads init_uts_ns.name.release as VMCOREINFO's OSRELEASE", () => {
    const name = k.info.symbol("init_uts_ns") + BigInt(k.info.offset("uts_namespace.name"));
    expect(k.cstring(name + 130n, 65)).toBe(release);
    expect(k.cstring(name, 65)).toBe("Linux");
  });

  test("read() across page boundaries equals the pages read one by one", () => {
    const base = k.info.symbol("init_uts_ns") & ~0xfffn;
    const whole = k.read(base + 4000n, 8292);
    const parts = Buffer.concat([k.read(base + 4000n, 96), k.read(base + 4096n, 4096), k.read(base + 8192n, 4100)]);
    expect(Buffer.from(whole)).toEqual(parts);
  });
});

describe("openKernel() on synthetic dumps", () => {
  test("u8/u16/u32/s32/u64 read little-endian values at kernel addresses", () => {
    const f = new FakeKernel(4);
    const at = f.imagePhys + 0x3ffc; // straddles a page boundary
    new DataView(f.phys.buffer).setBigUint64(at, 0xfedcba9876543210n, true);
    const k = openKernel(f.dump());
    const va = f.imageVaddr + 0x3ffcn;
    expect([k.u8(va), k.u16(va), k.u32(va), k.s32(va + 4n), k.u64(va)]).toEqual([0x10, 0x3210, 0x76543210, -19088744, 0xfedcba9876543210n]);
  });

  test("a dump without VMCOREINFO is a MissingDataError", () => {
    const d = new ElfDump(new BufferSource(elfCore([], [{ paddr: 0n, data: new Uint8Array(4096) }])), "raw.img");
    expect(() => openKernel(d)).toThrow(MissingDataError);
    expect(() => openKernel(d)).toThrow("raw.img has no VMCOREINFO");
  });
});
