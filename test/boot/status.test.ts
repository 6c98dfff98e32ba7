import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import { crashkernelArgs, crashRegions, lockdownMode, readStatus } from "../../lib/boot/status.ts";
import { removeScratch, scratchDir } from "../_scratch.ts";

afterAll(removeScratch);

/** A scratch /proc + /sys + /boot tree. */
function box(files: Record<string, string | Uint8Array>): string {
  const root = scratchDir("kdump-status-");
  for (const [p, v] of Object.entries(files)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), v);
  }
  return root;
}

const IOMEM_ROOT = `00000000-00000fff : Reserved
00001000-0009fbff : System RAM
00100000-3ffdffff : System RAM
  1d000000-1dffffff : Kernel code
  2f000000-3effffff : Crash kernel
`;

describe("status", () => {
  test("crashkernelArgs() returns every crashkernel= value in order", () => {
    expect(crashkernelArgs("BOOT_IMAGE=/vmlinuz root=/dev/vda crashkernel=256M crashkernel=64M,low quiet\n")).toEqual(["256M", "64M,low"]);
    expect(crashkernelArgs("root=/dev/vda quiet")).toEqual([]);
  });

  test("crashRegions() reads nested Crash kernel lines and flags zeroed addresses as hidden", () => {
    expect(crashRegions(IOMEM_ROOT)).toEqual([{ start: 0x2f000000n, end: 0x3effffffn, hidden: false }]);
    expect(crashRegions("00000000-00000000 : Crash kernel\n")).toEqual([{ start: 0n, end: 0n, hidden: true }]);
  });

  test("lockdownMode() picks the bracketed mode", () => {
    expect(lockdownMode("none [integrity] confidentiality\n")).toBe("integrity");
    expect(lockdownMode("[none] integrity confidentiality\n")).toBe("none");
  });

  test("readStatus() is ready only with a reservation and a loaded capture kernel", () => {
    const base = {
      "proc/sys/kernel/osrelease": "6.1.0-56-cloud-amd64\n",
      "proc/cmdline": "root=/dev/vda crashkernel=256M\n",
      "proc/iomem": IOMEM_ROOT,
      "sys/kernel/kexec_crash_size": "268435456\n",
      "sys/kernel/kexec_loaded": "0\n",
      "boot/config-6.1.0-56-cloud-amd64": "CONFIG_KEXEC=y\nCONFIG_KEXEC_FILE=y\n",
      "sys/kernel/security/lockdown": "[none] integrity confidentiality\n",
    };
    const notLoaded = readStatus({ root: box({ ...base, "sys/kernel/kexec_crash_loaded": "0\n" }) });
    expect(notLoaded.ready).toBe(false);
    expect(notLoaded.verdict).toContain("kdump load");
    const loaded = readStatus({ root: box({ ...base, "sys/kernel/kexec_crash_loaded": "1\n" }) });
    expect(loaded).toMatchObject({ ready: true, crashSize: 268435456, kexecFile: true, lockdown: "none", crashkernel: ["256M"] });
    expect(loaded.verdict).toStartWith("ready:");
  });

  test("readStatus() says no reservation when crashkernel= is absent, and reads /proc/config.gz", () => {
    const s = readStatus({
      root: box({
        "proc/sys/kernel/osrelease": "6.12.1\n",
        "proc/cmdline": "root=/dev/vda\n",
        "proc/iomem": "00100000-3ffdffff : System RAM\n",
        "sys/kernel/kexec_crash_size": "0\n",
        "proc/config.gz": gzipSync("# CONFIG_KEXEC_FILE is not set\n"),
      }),
    });
    expect(s).toMatchObject({ ready: false, kexecFile: false, configSource: "/proc/config.gz", lockdown: null });
    expect(s.verdict).toContain("no crashkernel=");
  });

  test("readStatus() explains a crashkernel= that reserved nothing", () => {
    const s = readStatus({ root: box({ "proc/cmdline": "crashkernel=64G\n", "sys/kernel/kexec_crash_size": "0\n" }) });
    expect(s.ready).toBe(false);
    expect(s.verdict).toContain("no memory was reserved");
  });
});
