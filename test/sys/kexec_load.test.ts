import { describe, expect, test } from "bun:test";
import { KexecError } from "../../lib/sys/kexec.ts";
import { KEXEC_LOAD, kexecLoad, kexecLoadError, type KexecLoadCalls, packSegments } from "../../lib/sys/kexec_load.ts";

// A fake syscall layer: records the arguments and returns a chosen errno. The real call is exercised only in the
// lab (test/lab/kexec_load.test.ts): kexec_load must never run on the host.
function fake(errno = 0) {
  const calls: { entry: bigint; nr: number; segments: Uint8Array | null; flags: number }[] = [];
  const sys: KexecLoadCalls = {
    kexecLoad: (entry, nr, segments, flags) => {
      calls.push({ entry, nr, segments, flags });
      return { ret: errno ? -1n : 0n, errno };
    },
  };
  return { sys, calls };
}

describe("kexec_load", () => {
  const seg = (mem: bigint, n: number) => ({ data: new Uint8Array(n).fill(7), mem, memsz: 4096 });

  test("packSegments() lays out struct kexec_segment { buf, bufsz, mem, memsz } in 32 bytes each", () => {
    const b = packSegments([seg(0x2f000000n, 100), seg(0x2f001000n, 4096)]);
    const v = new DataView(b.buffer);
    expect(b.length).toBe(64);
    expect(v.getBigUint64(0, true)).not.toBe(0n);
    expect([v.getBigUint64(8, true), v.getBigUint64(16, true), v.getBigUint64(24, true)]).toEqual([100n, 0x2f000000n, 4096n]);
    expect([v.getBigUint64(40, true), v.getBigUint64(48, true), v.getBigUint64(56, true)]).toEqual([4096n, 0x2f001000n, 4096n]);
  });

  test("kexecLoad() passes KEXEC_ON_CRASH | KEXEC_ARCH_X86_64 (0x3e0001) and the entry", () => {
    const { sys, calls } = fake();
    kexecLoad(0x325a7000n, [seg(0x2f000000n, 10)], true, {}, sys);
    expect(calls[0]!.flags).toBe(0x3e0001);
    expect(KEXEC_LOAD.ARCH_X86_64).toBe(62 << 16);
    expect(calls[0]!.entry).toBe(0x325a7000n);
    expect(calls[0]!.nr).toBe(1);
  });

  test("kexecLoad() refuses more than 16 segments without calling the kernel", () => {
    const { sys, calls } = fake();
    expect(() => kexecLoad(0n, Array.from({ length: 17 }, (_, i) => seg(BigInt(i) << 12n, 1)), true, {}, sys)).toThrow(KexecError);
    expect(calls).toHaveLength(0);
  });

  test("kexecLoadError() says lockdown forbids kexec_load when EPERM comes under lockdown", () => {
    const e = kexecLoadError(1, { lockdown: "integrity", uid: 0 });
    expect(e).toBeInstanceOf(KexecError);
    expect(e.code).toBe("EPERM");
    expect(e.summary()).toMatch(/^kexec_load failed with EPERM \(1\): kernel lockdown \("integrity"\) forbids kexec_load.*--syscall file/);
  });

  test.each([
    [1, { uid: 1000 }, /not root/],
    [1, { uid: 0, loadDisabled: true }, /kexec_load_disabled/],
    [99, { reserved: { start: 0x2f000000n, end: 0x3effffffn } }, /outside the crash reservation 0x2f000000-0x3effffff/],
    [99, { reserved: null }, /no memory is reserved.*crashkernel=/],
    [38, {}, /CONFIG_KEXEC is off.*--syscall file/],
    [16, {}, /retry/],
  ])("kexecLoadError(%d) explains the cause", (errno, ctx, re) => {
    expect(kexecLoadError(errno, ctx).summary()).toMatch(re);
  });
});
