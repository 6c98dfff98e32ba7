import { afterEach, describe, expect, test } from "bun:test";
import { hotplugHandling, onHotplug } from "../../lib/service/hotplug.ts";
import { fakeBox, type FakeBox } from "./_fakebox.ts";

let box: FakeBox;
afterEach(() => box?.remove());

describe("hotplug", () => {
  test("onHotplug() leaves it to a 6.5+ kernel that updates the loaded image itself (crash_hotplug = 1)", () => {
    box = fakeBox({ loaded: true, files: { "/sys/devices/system/cpu/crash_hotplug": "1\n", "/sys/devices/system/memory/crash_hotplug": "1\n", "/sys/kernel/crash_elfcorehdr_size": "4096\n" } });
    expect(hotplugHandling(box)).toEqual({ byKernel: true, detail: "the kernel updates the capture image itself (crash_hotplug: cpu 1, memory 1; elfcorehdr 4096 bytes)" });
    expect(onHotplug(box).action).toBe("none");
    expect(box.commands).toEqual([]);
  });

  test("onHotplug() re-arms through the unit on a kernel without crash_hotplug (6.1)", () => {
    box = fakeBox({ loaded: true });
    const r = onHotplug(box);
    expect(r).toEqual({ action: "re-arm", reason: "queued a reload of kdump-toolkit.service (loads again if the memory or CPU map changed)" });
    expect(box.commands).toEqual(["systemctl --no-block reload kdump-toolkit.service"]);
  });

  test("onHotplug() re-arms when the kernel has crash_hotplug but does not update this image (0: loaded by kexec_load)", () => {
    box = fakeBox({ loaded: true, files: { "/sys/devices/system/cpu/crash_hotplug": "0\n" } });
    expect(hotplugHandling(box).byKernel).toBe(false);
    expect(onHotplug(box).action).toBe("re-arm");
  });

  test("onHotplug() does nothing when no capture kernel is loaded", () => {
    box = fakeBox({ loaded: false });
    expect(onHotplug(box)).toEqual({ action: "none", reason: "no capture kernel is loaded" });
    expect(box.commands).toEqual([]);
  });
});
