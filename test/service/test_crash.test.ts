import { afterEach, describe, expect, test } from "bun:test";
import { readState } from "../../lib/service/state.ts";
import { newTestId, testCrash } from "../../lib/service/test_crash.ts";
import { fakeBox, type FakeBox } from "./_fakebox.ts";

let box: FakeBox;
afterEach(() => box?.remove());

describe("testCrash()", () => {
  test("testCrash() refuses when nothing is loaded, and records nothing", async () => {
    box = fakeBox({ loaded: false });
    await expect(testCrash({ yes: true }, () => {}, box)).rejects.toThrow("refusing to test: no capture kernel is loaded");
    expect(readState(box).lastTest).toBeNull();
    expect(box.sys.writes).toEqual([]);
  });

  test("testCrash() refuses without confirmation (no terminal, no --yes), and records nothing", async () => {
    box = fakeBox({ loaded: true });
    await expect(testCrash({}, () => {}, box)).rejects.toThrow("without confirmation");
    expect(readState(box).lastTest).toBeNull();
    expect(box.sys.writes).toEqual([]);
  });

  test("testCrash() records the test id, announces it, syncs, then crashes through sysrq", async () => {
    box = fakeBox({ loaded: true });
    const said: string[] = [];
    const id = await testCrash({ yes: true }, (x) => said.push(x), box);
    expect(said).toEqual([id]);
    expect(readState(box).lastTest).toEqual({ id, at: box.now(), bootId: "boot-1", target: "/var/crash" });
    expect(box.sys.rebootCalls).toEqual(["sync"]);
    expect(box.sys.writes).toEqual([["/proc/sys/kernel/sysrq", "1"], ["/proc/sysrq-trigger", "c"]]);
  });

  test("newTestId() is the UTC date and time and four characters", () => {
    expect(newTestId(1_796_117_460)).toMatch(/^20261201-0931-[0-9a-z]{4}$/);
  });
});
