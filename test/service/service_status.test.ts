import { afterEach, describe, expect, test } from "bun:test";
import { utimesSync } from "node:fs";
import { join } from "node:path";
import { collectorPaths } from "../../lib/load/load.ts";
import { captureInputs } from "../../lib/service/inputs.ts";
import { formatServiceStatus, readServiceStatus } from "../../lib/service/service_status.ts";
import { updateState } from "../../lib/service/state.ts";
import { fakeBox, RELEASE, type FakeBox } from "./_fakebox.ts";

let box: FakeBox;
afterEach(() => box?.remove());

const T = 1_796_000_000;

function arm(b: FakeBox, by: "service" | "hand", bootId = "boot-1"): void {
  const inputs = captureInputs(b, RELEASE, [], "/var/crash", collectorPaths());
  b.file("/var/lib/kdump/initramfs.img", "img");
  updateState(b, (s) => void (s.armed = { by, bootId, at: T, release: RELEASE, initrd: "/var/lib/kdump/initramfs.img", inputs }));
}

/** A capture folder as the capture init leaves it, dated `at`. */
function folder(b: FakeBox, name: string, files: Record<string, string>, at: number): void {
  for (const [f, text] of Object.entries(files)) b.file(`/var/crash/${name}/${f}`, text);
  utimesSync(join(b.root, "var/crash", name), at, at);
}

describe("readServiceStatus()", () => {
  test("armed by the service in this boot, config valid, image current", () => {
    box = fakeBox({ loaded: true });
    arm(box, "service");
    const s = readServiceStatus(box);
    expect(s.armedBy).toBe("service");
    expect(s.config).toEqual({ valid: true, error: null, files: [] });
    expect(s.stale).toBe(false);
    expect(formatServiceStatus(s)).toContain("armed by:           the service");
  });

  test("a capture kernel loaded but not by the service in this boot is armed by hand", () => {
    box = fakeBox({ loaded: true });
    arm(box, "service", "an-earlier-boot");
    expect(readServiceStatus(box).armedBy).toBe("hand");
  });

  test("the loaded image is stale once the config changes; a bad config is a config error with file and line", () => {
    box = fakeBox({ loaded: true });
    arm(box, "service");
    box.file("/etc/kdump.conf", "path /var/crash/x\n");
    expect(readServiceStatus(box).stale).toBe(true);
    box.file("/etc/kdump.conf", "path var/crash\n");
    const s = readServiceStatus(box);
    expect(s.config.valid).toBe(false);
    expect(formatServiceStatus(s)).toContain("config:             config error: /etc/kdump.conf:1: path var/crash: an absolute path is expected");
  });

  test("the last crash is the newest complete dump; a test after which it was saved succeeded", () => {
    box = fakeBox({ loaded: true });
    folder(box, "lab-2026-11-30-10:00:00", { vmcore: "old" }, T - 86400);
    updateState(box, (s) => void (s.lastTest = { id: "20261201-0931-abcd", at: T - 60, bootId: "boot-0", target: "/var/crash" }));
    folder(box, "lab-2026-12-01-09:32:00", { vmcore: "new", "kexec-dmesg.log": "" }, T - 30);
    folder(box, "lab-2026-12-01-09:40:00", { "vmcore-incomplete": "" }, T - 10);
    const s = readServiceStatus(box);
    expect(s.lastCrash).toEqual({ path: "/var/crash/lab-2026-12-01-09:32:00/vmcore", at: T - 30 });
    expect(s.lastTest).toEqual({ id: "20261201-0931-abcd", at: T - 60, outcome: "success", dump: "/var/crash/lab-2026-12-01-09:32:00/vmcore" });
  });

  test("a test after which no dump was saved failed, with the reason from the saved capture log", () => {
    box = fakeBox({ loaded: true });
    updateState(box, (s) => void (s.lastTest = { id: "t1", at: T - 60, bootId: "boot-0", target: "/var/crash" }));
    folder(box, "lab-2026-12-01-09:32:00", { "kexec-dmesg.log": "[ 1.0] kdump-capture: root /dev/vda mounted\n[ 2.0] kdump-capture: saving the dump failed\n" }, T - 30);
    expect(readServiceStatus(box).lastTest).toEqual({
      id: "t1", at: T - 60, outcome: "failure", reason: "the capture saved no dump: saving the dump failed (/var/crash/lab-2026-12-01-09:32:00/kexec-dmesg.log)",
    });
  });

  test("a test with no capture folder after it failed; in the same boot it is still pending", () => {
    box = fakeBox({ loaded: true });
    updateState(box, (s) => void (s.lastTest = { id: "t2", at: T, bootId: "boot-0", target: "/var/crash" }));
    expect(readServiceStatus(box).lastTest?.reason).toContain("no capture folder under /var/crash after the test crash");
    updateState(box, (s) => void (s.lastTest = { id: "t2", at: T, bootId: "boot-1", target: "/var/crash" }));
    expect(readServiceStatus(box).lastTest?.outcome).toBe("pending");
  });

  test("prepared images of installed kernels are listed; other services are reported", () => {
    box = fakeBox({ loaded: false });
    box.file("/var/lib/kdump/initramfs-6.12.img", "x");
    updateState(box, (s) => void (s.prepared["6.12.117+deb12-cloud-amd64"] = { initrd: "/var/lib/kdump/initramfs-6.12.img", at: T }));
    box.file("/lib/systemd/system/kdump-tools.service", "");
    const s = readServiceStatus(box);
    expect(s.prepared).toEqual([{ release: "6.12.117+deb12-cloud-amd64", initrd: "/var/lib/kdump/initramfs-6.12.img", at: T, present: true }]);
    expect(s.armedBy).toBeNull();
    expect(formatServiceStatus(s)).toContain("other service:      kdump-tools (kdump-tools.service) installed, not enabled");
  });
});
