// The capture command line against kdump-utils' x86_64 lists (DESIGN.md): what it removes is gone, what it appends
// is there once, root= moves to kdump.root= for our init, init's arguments and init=/rdinit= are dropped.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { APPEND_AARCH64, APPEND_DEFAULT, captureCmdline, editCmdline, paramName, paramValue, REMOVE_ALWAYS, REMOVE_DEFAULT, splitCmdline } from "../../lib/load/cmdline.ts";

/** A Debian GRUB command line with every parameter kdump-utils removes, one of each kind. */
const DEBIAN =
  'BOOT_IMAGE=/boot/vmlinuz-6.1.0-56-cloud-amd64 root=UUID=0a1b2c3d-1111-2222-3333-444455556666 ro console=tty0 console=ttyS0,115200 ' +
  "quiet crashkernel=384M-:128M hugepages=16 hugepagesz=2M slub_debug=FZ log_buf_len=1M swiotlb=65536 cma=64M hugetlb_cma=0 " +
  "panic_on_warn=1 rd.lvm.lv=vg/root panic=5 nr_cpus=4 rootflags=data=ordered rootfstype=ext4";

const names = (line: string) => splitCmdline(line).map(paramName);

describe("captureCmdline()", () => {
  const out = captureCmdline(DEBIAN);

  test("captureCmdline() removes every parameter kdump-utils removes on x86_64 (cma=, hugetlb_cma= come back as 0)", () => {
    for (const p of [...REMOVE_DEFAULT, ...REMOVE_ALWAYS].map(paramName))
      for (const w of splitCmdline(out).filter((x) => paramName(x) === p)) expect(APPEND_DEFAULT).toContain(w);
    expect(names(out)).not.toContain("crashkernel");
    expect(names(out)).not.toContain("hugepages");
  });

  test("captureCmdline() appends each kdump-utils parameter exactly once, replacing the running value", () => {
    for (const w of APPEND_DEFAULT) expect(splitCmdline(out).filter((x) => paramName(x) === paramName(w))).toEqual([w]);
    expect(paramValue(splitCmdline(out), "panic")).toBe("10"); // panic=5 is gone, not shadowed
    expect(paramValue(splitCmdline(out), "nr_cpus")).toBe("1");
  });

  test("captureCmdline() hands root=, rootfstype= and rootflags= to the capture init as kdump.*", () => {
    const w = splitCmdline(out);
    expect(paramValue(w, "kdump.root")).toBe("UUID=0a1b2c3d-1111-2222-3333-444455556666");
    expect(paramValue(w, "kdump.rootfstype")).toBe("ext4");
    expect(paramValue(w, "kdump.rootflags")).toBe("data=ordered");
    expect(names(out)).not.toContain("root");
  });

  test("captureCmdline() keeps what the capture kernel needs from the running one (console=, ro)", () => {
    expect(splitCmdline(out).filter((w) => w.startsWith("console="))).toEqual(["console=tty0", "console=ttyS0,115200"]);
    expect(splitCmdline(out)).toContain("ro");
  });

  test("captureCmdline() drops init=, rdinit= and the old init's arguments after --", () => {
    const o = captureCmdline("console=ttyS0 rdinit=/process_api init=/sbin/init root=/dev/vda -- --addr 0.0.0.0 nr_cpus=8");
    expect(names(o)).not.toContain("rdinit");
    expect(names(o)).not.toContain("init");
    expect(o).not.toContain("--");
    expect(o).not.toContain("0.0.0.0");
    expect(paramValue(splitCmdline(o), "nr_cpus")).toBe("1");
  });

  test("captureCmdline() takes root from the mounted device when the command line has none", () => {
    expect(paramValue(splitCmdline(captureCmdline("console=ttyS0", { root: "/dev/vda" })), "kdump.root")).toBe("/dev/vda");
    expect(names(captureCmdline("console=ttyS0"))).not.toContain("kdump.root");
  });

  test("captureCmdline() applies the user's removals to our defaults and appends the user's words last", () => {
    const o = splitCmdline(captureCmdline(DEBIAN, { remove: ["nokaslr", "console"], append: ["nr_cpus=2", "kdump.extra=1"] }));
    expect(o.map(paramName)).not.toContain("nokaslr");
    expect(o.map(paramName)).not.toContain("console");
    expect(paramValue(o, "nr_cpus")).toBe("2");
    expect(o.slice(-2)).toEqual(["nr_cpus=2", "kdump.extra=1"]);
  });

  test("captureCmdline() on aarch64 appends kdump-utils' aarch64 list: swiotlb=noforce, none of x86's options", () => {
    const arm = splitCmdline(captureCmdline("console=ttyAMA0 root=/dev/vda ro swiotlb=65536 crashkernel=256M", { machine: "aarch64" }));
    for (const w of APPEND_AARCH64) expect(arm.filter((x) => paramName(x) === paramName(w))).toEqual([w]);
    for (const x86 of ["mce", "numa", "acpi_no_memhotplug", "hest_disable", "nokaslr", "transparent_hugepage", "pcie_ports"]) expect(arm.map(paramName)).not.toContain(x86);
    expect(arm.slice(0, 2)).toEqual(["console=ttyAMA0", "ro"]);
    expect(splitCmdline(captureCmdline("console=ttyS0", { machine: "x86_64" })).map(paramName)).toContain("mce");
  });

  test("captureCmdline() adds disable_cpu_apicid= for the boot CPU when known", () => {
    expect(paramValue(splitCmdline(captureCmdline(DEBIAN, { bootCpuApicId: 6 })), "disable_cpu_apicid")).toBe("6");
  });

  test("captureCmdline() of this machine's /proc/cmdline has no reservation and one nr_cpus", () => {
    const o = splitCmdline(captureCmdline(readFileSync("/proc/cmdline", "utf8")));
    expect(o.map(paramName)).not.toContain("crashkernel");
    expect(o.filter((w) => paramName(w) === "nr_cpus")).toEqual(["nr_cpus=1"]);
  });
});

describe("splitCmdline() and editCmdline()", () => {
  test("splitCmdline() keeps double-quoted values whole", () => {
    expect(splitCmdline(' a  b="c d" e=f\n')).toEqual(["a", 'b="c d"', "e=f"]);
  });

  test("paramName() reads - as _, as the kernel's parameq does", () => {
    expect(paramName("transparent-hugepage=never")).toBe(paramName("transparent_hugepage"));
  });

  test("editCmdline() removes by name (bare and with a value) and keeps init arguments after --", () => {
    expect(editCmdline("quiet a=1 quiet=0 b -- x y", { remove: ["quiet"], append: ["a=2"] })).toBe("b a=2 -- x y");
  });
});
