import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import { errorLine } from "../../lib/errors.ts";
import { checkPrerequisites, PrerequisiteError, requirePrerequisites } from "../../lib/service/prerequisites.ts";
import { fakeBox, RELEASE, thrown, type FakeBox } from "./_fakebox.ts";

let box: FakeBox;
afterEach(() => box?.remove());

describe("prerequisites", () => {
  test("checkPrerequisites() passes a box that has everything", () => {
    box = fakeBox();
    expect(checkPrerequisites(box).filter((p) => !p.ok)).toEqual([]);
  });

  test("a missing busybox is named with the one Debian command that installs it", () => {
    box = fakeBox({ busybox: false });
    expect(() => requirePrerequisites(box)).toThrow(PrerequisiteError);
    expect(thrown(() => requirePrerequisites(box))).toContain("missing static busybox (no busybox): apt-get install -y busybox-static");
  });

  test("a dynamically linked busybox does not count", () => {
    box = fakeBox({ busybox: false });
    box.file("/bin/busybox", readFileSync("/bin/sh")); // dash: dynamically linked
    expect(thrown(() => requirePrerequisites(box))).toMatch(/\/bin\/busybox is dynamically linked.*busybox-static/);
  });

  test("on Fedora/RHEL the command is dnf with Fedora's package name", () => {
    box = fakeBox({ busybox: false });
    box.file("/etc/fedora-release", "Fedora release 41\n");
    expect(thrown(() => requirePrerequisites(box))).toMatch(/: dnf install -y busybox$/);
  });

  test("every missing prerequisite is named at once: packages in one command, then the other steps", () => {
    box = fakeBox({ busybox: false, uid: 1000, files: { "/sys/kernel/kexec_crash_size": "0\n" } });
    let e: unknown;
    try {
      requirePrerequisites(box);
    } catch (x) {
      e = x;
    }
    expect((e as PrerequisiteError).missing.map((m) => m.name)).toEqual(["root", "reserved memory", "static busybox"]);
    expect(errorLine(e)).toBe(
      "missing root (running as uid 1000), reserved memory (no crashkernel= reservation), static busybox (no busybox): apt-get install -y busybox-static; then run it as root; then reserve memory with `kdump setup` and reboot",
    );
  });

  test("a missing kernel image names its package", () => {
    box = fakeBox();
    rmSync(`${box.root}/boot/vmlinuz-${RELEASE}`);
    expect(thrown(() => requirePrerequisites(box))).toContain(`apt-get install -y linux-image-${RELEASE}`);
  });
});
