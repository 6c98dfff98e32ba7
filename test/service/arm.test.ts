import { afterEach, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { collectorPaths } from "../../lib/load/load.ts";
import { reload, restart, spaceCheck, start, stop } from "../../lib/service/arm.ts";
import { captureInputs } from "../../lib/service/inputs.ts";
import { readState, updateState } from "../../lib/service/state.ts";
import { KEXEC_FILE } from "../../lib/sys/kexec.ts";
import { fakeBox, RELEASE, thrown, type FakeBox } from "./_fakebox.ts";

let box: FakeBox;
afterEach(() => box?.remove());

/** Records that the service armed the box in this boot with the box's current inputs. */
function armedNow(b: FakeBox, initrd = "/etc/hostname"): void {
  b.file("/etc/hostname", "box\n");
  const inputs = captureInputs(b, RELEASE, [], "/var/crash", collectorPaths());
  updateState(b, (s) => void (s.armed = { by: "service", bootId: "boot-1", at: 1, release: RELEASE, initrd: `${b.root}${initrd}`, inputs }));
}

describe("start() with a bad config", () => {
  test.each([
    ["an unknown directive", "bogus_directive 1\n", "/etc/kdump.conf:1: bogus_directive 1: unknown directive: see kdump.conf(5)"],
    ["a bad core_collector", "path /var/crash\ncore_collector makedumpfile -q\n", "/etc/kdump.conf:2: core_collector: makedumpfile option -q is not supported"],
    ["a missing path", "path\n", "/etc/kdump.conf:1: path: a value is expected: e.g. path /var/crash"],
    ["a relative path", "path var/crash\n", "/etc/kdump.conf:1: path var/crash: an absolute path is expected"],
    ["a bad failure_action", "failure_action explode\n", "/etc/kdump.conf:1: failure_action explode: expected one of reboot, halt, poweroff, shell, dump_to_rootfs"],
    ["an unknown target type", "# dumps\nftp srv:/x\n", "/etc/kdump.conf:2: ftp srv:/x: unknown directive"],
  ])("start() fails at the file and line of %s, and the loaded image stays loaded", (_what, conf, message) => {
    box = fakeBox({ loaded: true });
    armedNow(box);
    const before = readState(box);
    box.file("/etc/kdump.conf", conf);
    const line = thrown(() => start({}, box));
    expect(line).toContain(message);
    expect(box.sys.loads).toEqual([]); // no kexec call at all: neither unload nor load
    expect(readState(box)).toEqual(before);
  });

  test("restart() also checks the config before it unloads anything", () => {
    box = fakeBox({ loaded: true });
    box.file("/etc/kdump.conf", "path var/crash\n");
    expect(thrown(() => restart({}, box))).toContain("/etc/kdump.conf:1: path var/crash");
    expect(box.sys.loads).toEqual([]);
  });

  test("start() checks prerequisites before the config and names the install command", () => {
    box = fakeBox({ loaded: true, busybox: false });
    expect(thrown(() => start({}, box))).toContain("apt-get install -y busybox-static");
    expect(box.sys.loads).toEqual([]);
  });
});

describe("start(), stop()", () => {
  test("start() does nothing when the same inputs are loaded already in this boot", () => {
    box = fakeBox({ loaded: true });
    armedNow(box);
    const r = start({ by: "service" }, box);
    expect(r.action).toBe("unchanged");
    expect(box.sys.loads).toEqual([]);
  });

  test("start() goes to the loader once an input changed (here the config: the fake kernel image then stops it)", () => {
    box = fakeBox({ loaded: true });
    armedNow(box);
    box.file("/etc/kdump.conf", "path /var/crash/x\n");
    expect(thrown(() => start({}, box))).toMatch(/kernel image \/boot\/vmlinuz-\S+ not found|not a bzImage/);
  });

  test("reload() loads again once the memory map changed (a hotplug), and not before", () => {
    box = fakeBox({ loaded: true });
    armedNow(box);
    expect(reload({ by: "service" }, box).action).toBe("unchanged");
    updateState(box, (s) => void (s.armed!.layout = "memory-before-hotplug"));
    expect(thrown(() => reload({ by: "service" }, box))).toMatch(/kernel image \/boot\/vmlinuz-\S+ not found|not a bzImage/);
    expect(box.sys.loads).toEqual([]); // nothing unloaded on the way
  });

  test("start() with USE_KDUMP=0 in /etc/default/kdump-tools loads and unloads nothing, and says which line said so", () => {
    box = fakeBox({ loaded: true });
    box.file("/etc/default/kdump-tools", "# off for now\nUSE_KDUMP=0\n");
    const r = start({ by: "service" }, box);
    expect(r.action).toBe("disabled");
    expect(r.reason).toBe("/etc/default/kdump-tools:2: USE_KDUMP=0 says not to arm kdump (set USE_KDUMP=1 to arm it)");
    expect(box.sys.loads).toEqual([]);
  });

  test("stop() unloads the capture kernel and forgets who armed it", () => {
    box = fakeBox({ loaded: true });
    armedNow(box);
    stop(box);
    expect(box.sys.loads.map((l) => l.flags)).toEqual([KEXEC_FILE.UNLOAD | KEXEC_FILE.ON_CRASH]);
    expect(readState(box).armed).toBeNull();
  });
});

describe("spaceCheck()", () => {
  const forecast = (level: number) => ({ level, presentPages: 262144, keptPages: 65536, bytes: 65536 * 4096, excluded: { zero: 0, cache: 0, cachePrivate: 0, user: 0, free: 196608, hwpoison: 0, offline: 0 } });
  const config = { config: { settings: { dumpLevel: 31 } } } as never;
  test("spaceCheck() warns with both numbers when the forecast at the configured level does not fit the target's free space", () => {
    const asked: string[] = [];
    const free = (d: string) => (asked.push(d), d === "/var" ? 100 * 1048576 : null); // /var/crash/x does not exist yet
    expect(spaceCheck({ forecast, free }, config, { target: "/var/crash/x", storage: null })).toEqual([
      "the dump forecast (256.0 MiB at -d 31: 65536 of 262144 pages, before zero pages and compression) does not fit the 100.0 MiB free at /var/crash/x: free space there, raise the dump level, or choose another target",
    ]);
    expect(asked).toEqual(["/var/crash/x", "/var/crash", "/var"]);
    expect(spaceCheck({ forecast, free: () => 1 << 30 }, config, { target: "/var/crash", storage: null })).toEqual([]);
    expect(spaceCheck({ forecast: () => { throw new Error("no /proc/kcore"); }, free: () => 1 }, config, { target: "/var/crash", storage: null })[0]).toContain("could not be forecast");
  });
});

describe("start() with a raw target", () => {
  test("start() saves the stream the last capture left on the raw partition as /var/crash/<host>-<date>/vmcore before arming, once", () => {
    box = fakeBox({ loaded: false });
    box.file("/etc/kdump.conf", "raw /dev/vdb\n");
    const head = Buffer.alloc(4096);
    head.write("makedumpfile", 0, "latin1");
    head.writeBigInt64BE(1n, 16); // type
    head.writeBigInt64BE(1n, 24); // version
    const rec = Buffer.alloc(16);
    rec.writeBigInt64BE(0n, 0);
    rec.writeBigInt64BE(5n, 8);
    const end = Buffer.alloc(16);
    end.writeBigInt64BE(-1n, 0);
    box.file("/dev/vdb", Buffer.concat([head, rec, Buffer.from("hello"), end, Buffer.alloc(4096, 1)]));
    thrown(() => start({}, box)); // the fake box has no kernel to load: the save comes first
    const saved = readdirSync(join(box.root, "var/crash"));
    expect(saved).toHaveLength(1);
    expect(readFileSync(join(box.root, "var/crash", saved[0]!, "vmcore"), "latin1")).toBe("hello");
    expect(readFileSync(join(box.root, "dev/vdb")).subarray(0, 4096).every((b) => b === 0)).toBe(true); // consumed
    thrown(() => start({}, box));
    expect(readdirSync(join(box.root, "var/crash"))).toHaveLength(1);
  });
});
