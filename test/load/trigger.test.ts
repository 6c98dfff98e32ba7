// `kdump trigger` and `kdump exec` against a fake host: the checks and the confirmation come before any write to
// /proc/sysrq-trigger or any reboot call. The real crash and kexec, in a guest, are in test/lab/load.test.ts.
import { describe, expect, test } from "bun:test";
import { execStaged, trigger } from "../../lib/load/trigger.ts";
import { errorLine, RefusedError, UnsupportedMachineError } from "../../lib/errors.ts";
import { load, unload } from "../../lib/load/load.ts";
import { LINUX_REBOOT } from "../../lib/sys/reboot.ts";
import { fakeHost } from "./_fakehost.ts";

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(RefusedError);
    return errorLine(e);
  }
  throw new Error("expected a refusal");
}

describe("trigger()", () => {
  test("trigger() refuses when no capture kernel is loaded, even with --yes, and writes nothing", async () => {
    const h = fakeHost({ "/sys/kernel/kexec_crash_loaded": "0\n" });
    expect(await refusal(trigger({ yes: true }, h))).toMatch(/no capture kernel is loaded, the dump would be lost: run `kdump load` first/);
    expect(h.writes).toEqual([]);
  });

  test("trigger() refuses on a kernel without kexec", async () => {
    const h = fakeHost({});
    expect(await refusal(trigger({ yes: true }, h))).toMatch(/no kexec support/);
    expect(h.writes).toEqual([]);
  });

  test("trigger() without --yes refuses when there is no terminal, or the answer is not the host name", async () => {
    const loaded = { "/sys/kernel/kexec_crash_loaded": "1\n" };
    const none = fakeHost(loaded, { answer: null });
    expect(await refusal(trigger({}, none))).toMatch(/without confirmation: .*pass --yes/);
    const wrong = fakeHost(loaded, { answer: "yes" });
    expect(await refusal(trigger({}, wrong))).toMatch(/"yes" is not the host name testbox/);
    expect([...none.writes, ...wrong.writes]).toEqual([]);
  });

  test("trigger() with the host name typed enables sysrq, syncs, then writes c", async () => {
    const h = fakeHost({ "/sys/kernel/kexec_crash_loaded": "1\n" }, { answer: "testbox\n" });
    await trigger({}, h);
    expect(h.writes).toEqual([["/proc/sys/kernel/sysrq", "1"], ["/proc/sysrq-trigger", "c"]]);
    expect(h.rebootCalls).toEqual(["sync"]);
  });

  test("trigger() with --yes does not ask", async () => {
    const h = fakeHost({ "/sys/kernel/kexec_crash_loaded": "1\n" }, { answer: "wrong" });
    await trigger({ yes: true }, h);
    expect(h.writes.at(-1)).toEqual(["/proc/sysrq-trigger", "c"]);
  });
});

describe("the syscall guard", () => {
  const loaded = { "/sys/kernel/kexec_crash_loaded": "1\n", "/sys/kernel/kexec_loaded": "1\n" };
  async function refusedOn(machine: string, run: (h: ReturnType<typeof fakeHost>) => unknown) {
    const h = fakeHost(loaded, { answer: "testbox", machine });
    let e: unknown;
    try {
      await run(h);
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(UnsupportedMachineError);
    expect(errorLine(e)).toContain(`on ${machine}: kdump has no syscall table for this architecture`);
    // no syscall (the fake records every kexec, sync and reboot) and no /proc write
    expect([h.writes, h.loads, h.rebootCalls]).toEqual([[], [], []]);
  }

  test.each(["s390x", "ppc64le"])("trigger() with a capture kernel loaded on %p refuses before sysrq, sync or the trigger", async (m) => {
    await refusedOn(m, (h) => trigger({ yes: true }, h));
  });

  test("execStaged(), load() and unload() refuse on a machine without a syscall table", async () => {
    await refusedOn("s390x", (h) => execStaged({ yes: true }, h));
    await refusedOn("s390x", (h) => unload({}, h));
    await refusedOn("s390x", (h) => load({ kernel: "/nonexistent", initrd: "/nonexistent" } as never, h));
  });

  test.each(["x86_64", "aarch64"])("trigger() on %p (a machine with a table) reaches sync() and the sysrq trigger", async (m) => {
    const h = fakeHost(loaded, { machine: m });
    await trigger({ yes: true }, h);
    expect(h.rebootCalls).toEqual(["sync"]);
    expect(h.writes).toEqual([["/proc/sys/kernel/sysrq", "1"], ["/proc/sysrq-trigger", "c"]]);
  });
});

describe("execStaged()", () => {
  test("execStaged() refuses when nothing is staged and never calls reboot", async () => {
    const h = fakeHost({ "/sys/kernel/kexec_loaded": "0\n" });
    expect(await refusal(execStaged({ yes: true }, h))).toMatch(/no kernel is staged: stage one with `kdump load --kexec`/);
    expect(h.rebootCalls).toEqual([]);
  });

  test("execStaged() asks like trigger, then syncs and calls reboot(LINUX_REBOOT_CMD_KEXEC)", async () => {
    const refused = fakeHost({ "/sys/kernel/kexec_loaded": "1\n" }, { answer: "other" });
    await refusal(execStaged({}, refused));
    expect(refused.rebootCalls).toEqual([]);
    const h = fakeHost({ "/sys/kernel/kexec_loaded": "1\n" });
    let e: unknown;
    try {
      await execStaged({ yes: true }, h);
    } catch (x) {
      e = x;
    }
    expect(h.rebootCalls).toEqual(["sync", `reboot ${LINUX_REBOOT.CMD_KEXEC}`]);
    expect(errorLine(e)).toMatch(/EPERM.*run as root/); // the fake's reboot fails as a non-root one would
  });
});
