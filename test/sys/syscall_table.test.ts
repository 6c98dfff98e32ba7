// The per-machine syscall tables against the kernel headers installed here, and the refusal on a machine without
// one. The refusal of the verbs themselves (trigger, exec, load, unload) is in test/load/trigger.test.ts.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { errorLine, UnsupportedMachineError } from "../../lib/errors.ts";
import { hostMachine, SYSCALL_TABLES, syscallTable, type SyscallName } from "../../lib/sys/syscall_table.ts";

/** `#define __NR_name N` lines of a header. */
function headerNumbers(path: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const [, name, n] of readFileSync(path, "utf8").matchAll(/^#define __NR_(\w+)\s+(\d+)\s*$/gm)) m.set(name!, Number(n));
  return m;
}

const HEADERS: Record<string, string> = {
  x86_64: "/usr/include/x86_64-linux-gnu/asm/unistd_64.h",
  aarch64: "/usr/include/asm-generic/unistd.h", // arm64's uapi unistd.h is the generic table
};

describe("syscallTable()", () => {
  test.each(Object.keys(HEADERS))("syscallTable(%p) equals the kernel headers' __NR_ numbers", (m) => {
    // linux-libc-dev ships both headers on every Debian architecture
    if (!existsSync(HEADERS[m]!)) throw new Error(`${HEADERS[m]} is missing: apt-get install linux-libc-dev`);
    const h = headerNumbers(HEADERS[m]!);
    const t = syscallTable(m);
    for (const name of Object.keys(t) as SyscallName[]) expect([name, t[name]]).toEqual([name, h.get(name)!]);
  });

  test("syscallTable() gives aarch64 (and arm64) its own numbers: sync is 81 there, 162 on x86_64", () => {
    expect(syscallTable("arm64")).toBe(syscallTable("aarch64"));
    expect(syscallTable("aarch64")).toMatchObject({ sync: 81, kexec_file_load: 294, kexec_load: 104, reboot: 142, finit_module: 273 });
    expect(syscallTable("x86_64")).toMatchObject({ sync: 162, kexec_file_load: 320, kexec_load: 246, reboot: 169, finit_module: 313 });
  });

  test.each(["s390x", "ppc64le", "riscv64", "i686"])("syscallTable(%p) refuses, naming the machine", (m) => {
    let e: unknown;
    try {
      syscallTable(m);
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(UnsupportedMachineError);
    expect(errorLine(e)).toMatch(new RegExp(`refusing to make system calls on ${m}: kdump has no syscall table for this architecture: .*tables exist for x86_64, aarch64`));
  });

  test("hostMachine() is this machine's uname -m, and it has a table", () => {
    const uname = Bun.spawnSync(["uname", "-m"]).stdout.toString().trim();
    expect(hostMachine()).toBe(uname);
    expect(SYSCALL_TABLES[uname]).toBeDefined();
  });
});
