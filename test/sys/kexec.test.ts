// kexec_file_load's arguments and errno mapping, through fake calls: this host never loads a kernel. The real
// errno path of libc's syscall() is proven on a harmless call (syncfs on a bad fd).
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KexecError, kexecError, kexecFileLoad, kexecFileUnload, KEXEC_FILE, type KexecCalls } from "../../lib/sys/kexec.ts";
import { ERRNO, syscall } from "../../lib/sys/libc.ts";
import { LINUX_REBOOT, rebootKexec, type RebootCalls } from "../../lib/sys/reboot.ts";
import { errorLine, SyscallError } from "../../lib/errors.ts";

const errno = (name: string) => Number(Object.entries(ERRNO).find(([, n]) => n === name)![0]);
const MiB = 1048576;

/** Fake kexec_file_load: records each call, answers with `fail` (an errno name) or success. */
function fakeKexec(fail?: string): KexecCalls & { calls: { kernelFd: number; initrdFd: number; cmdline: Uint8Array | null; flags: number }[] } {
  const calls: { kernelFd: number; initrdFd: number; cmdline: Uint8Array | null; flags: number }[] = [];
  return {
    calls,
    kexecFileLoad(kernelFd, initrdFd, cmdline, flags) {
      calls.push({ kernelFd, initrdFd, cmdline: cmdline && new Uint8Array(cmdline), flags });
      return fail ? { ret: -1n, errno: errno(fail) } : { ret: 0n, errno: 0 };
    },
  };
}

const dir = mkdtempSync(join(tmpdir(), "kdump-kexec-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const kernel = join(dir, "vmlinuz");
const initrd = join(dir, "initrd.img");
writeFileSync(kernel, "not really a kernel");
writeFileSync(initrd, "not really an initramfs");

describe("kexecFileLoad()", () => {
  test("kexecFileLoad() passes open fds, ON_CRASH and a NUL-terminated command line counted with its NUL", () => {
    const k = fakeKexec();
    kexecFileLoad({ kernel, initrd, cmdline: "console=ttyS0 nr_cpus=1", crash: true }, {}, k);
    const [c] = k.calls;
    expect(c!.flags).toBe(KEXEC_FILE.ON_CRASH);
    expect(c!.kernelFd).toBeGreaterThan(2);
    expect(c!.initrdFd).toBeGreaterThan(2);
    expect(new TextDecoder().decode(c!.cmdline!)).toBe("console=ttyS0 nr_cpus=1\0");
  });

  test("kexecFileLoad() without an initramfs sets NO_INITRAMFS and passes fd -1; --kexec has no ON_CRASH", () => {
    const k = fakeKexec();
    kexecFileLoad({ kernel, initrd: null, cmdline: "", crash: false }, {}, k);
    expect(k.calls[0]!.flags).toBe(KEXEC_FILE.NO_INITRAMFS);
    expect(k.calls[0]!.initrdFd).toBe(-1);
    expect(k.calls[0]!.cmdline!.length).toBe(1);
  });

  test("kexecFileUnload() sends UNLOAD (with ON_CRASH for the capture kernel) and takes ENOENT as nothing to do", () => {
    const k = fakeKexec();
    kexecFileUnload(true, k);
    kexecFileUnload(false, k);
    expect(k.calls.map((c) => c.flags)).toEqual([KEXEC_FILE.UNLOAD | KEXEC_FILE.ON_CRASH, KEXEC_FILE.UNLOAD]);
    expect(() => kexecFileUnload(true, fakeKexec("ENOENT"))).not.toThrow();
    expect(() => kexecFileUnload(true, fakeKexec("EPERM"))).toThrow(KexecError);
  });

  test("kexecFileLoad() turns a failure into a KexecError with the errno", () => {
    let e: unknown;
    try {
      kexecFileLoad({ kernel, initrd, cmdline: "x", crash: true }, { reserved: 0 }, fakeKexec("EADDRNOTAVAIL"));
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(KexecError);
    expect(e).toBeInstanceOf(SyscallError);
    expect((e as KexecError).code).toBe("EADDRNOTAVAIL");
    expect((e as KexecError).errno).toBe(99);
  });
});

describe("kexecError()", () => {
  const line = (name: string, op: Parameters<typeof kexecError>[1], c: Parameters<typeof kexecError>[2] = {}) => errorLine(kexecError(errno(name), op, c));

  test.each([
    ["EADDRNOTAVAIL", { reserved: 0 }, /no memory is reserved.*crashkernel=/],
    ["ENOMEM", { reserved: 0 }, /no memory is reserved/],
    ["EADDRNOTAVAIL", { reserved: 48 * MiB, kernelBytes: 51.5 * MiB, initrdBytes: MiB, needBytes: 150 * MiB }, /kernel 51\.5 MiB \+ initramfs 1 MiB need 52\.5 MiB to load, 48 MiB reserved: raise crashkernel= to at least 160M/],
    ["EPERM", { uid: 1000 }, /not root \(uid 1000\).*: run as root/],
    ["EPERM", { uid: 0, loadDisabled: true }, /kexec_load_disabled=1/],
    ["EPERM", { uid: 0, lockdown: "integrity" }, /lockdown is "integrity"/],
    ["EKEYREJECTED", { kernel: "/boot/vmlinuz-x" }, /signature of \/boot\/vmlinuz-x was rejected.*signed/],
    ["ENOKEY", {}, /unsigned or signed by an unknown key/],
    ["EBADMSG", {}, /signature .* malformed/],
    ["ENOEXEC", { kernel: "/etc/hostname" }, /\/etc\/hostname is not a kernel image.*bzImage/],
    ["EBUSY", {}, /in progress.*retry/],
    ["EINVAL", { cmdlineBytes: 3000, cmdlineMax: 2048 }, /3000 bytes; the kernel accepts 2048/],
    ["ENOSYS", {}, /no kexec_file_load \(CONFIG_KEXEC_FILE is off\).*--syscall load/],
  ] as const)("kexecError(%s) explains it and says what to do", (name, c, re) => {
    expect(line(name, "load-crash", c)).toMatch(re);
    expect(line(name, "load-crash", c)).toStartWith(`kexec_file_load failed with ${name} (${errno(name)})`);
  });

  test("kexecError() for a normal kexec ENOMEM speaks of free memory, not the reservation", () => {
    expect(line("ENOMEM", "load")).toMatch(/not enough free memory/);
  });
});

describe("rebootKexec()", () => {
  test("rebootKexec() syncs first, then calls reboot with the magic numbers and CMD_KEXEC", () => {
    const order: string[] = [];
    const calls: RebootCalls = {
      sync: () => void order.push("sync"),
      reboot: (cmd) => (order.push(`reboot ${cmd.toString(16)}`), { ret: -1n, errno: errno("EINVAL") }),
    };
    let e: unknown;
    try {
      rebootKexec(calls);
    } catch (x) {
      e = x;
    }
    expect(errorLine(e)).toMatch(/EINVAL \(22\): no kernel is staged: stage one with `kdump load --kexec`/);
    expect(order).toEqual(["sync", `reboot ${LINUX_REBOOT.CMD_KEXEC.toString(16)}`]);
  });
});

describe("syscall() errno", () => {
  test("syscall() reads errno right after a failing call (syncfs on fd -1 is EBADF)", () => {
    expect(syscall("syncfs", -1)).toEqual({ ret: -1n, errno: errno("EBADF") });
    expect(syscall("syncfs", 987654)).toEqual({ ret: -1n, errno: errno("EBADF") });
  });
});
