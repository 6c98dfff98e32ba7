import { describe, expect, test } from "bun:test";
import { loadPlanWithKexecLoad, loadWithChoice } from "../../lib/load/load_segments.ts";
import { UsageError } from "../../lib/errors.ts";
import { kexecError } from "../../lib/sys/kexec.ts";

// The --syscall policy with fake loaders: which errors of kexec_file_load let `auto` try kexec_load.
describe("loadWithChoice()", () => {
  const run = (choice: "file" | "load" | "auto", fileErrno: number | null) => {
    const tried: string[] = [];
    let result: string;
    try {
      result = loadWithChoice(
        choice,
        () => {
          tried.push("file");
          if (fileErrno !== null) throw kexecError(fileErrno, "load-crash", {});
        },
        () => void tried.push("load"),
      );
    } catch (e) {
      result = `throws ${(e as { code: string }).code}`;
    }
    return { tried, result };
  };

  test.each([
    ["ENOSYS", 38],
    ["ENOEXEC", 8],
  ])("loadWithChoice() auto falls back to kexec_load after %s", (_, errno) => {
    expect(run("auto", errno)).toEqual({ tried: ["file", "load"], result: "load" });
  });

  test.each([
    ["EKEYREJECTED", 129],
    ["ENOKEY", 126],
    ["EBADMSG", 74],
    ["EPERM", 1],
    ["EADDRNOTAVAIL", 99],
  ])("loadWithChoice() auto does not fall back after %s", (name, errno) => {
    expect(run("auto", errno)).toEqual({ tried: ["file"], result: `throws ${name}` });
  });

  test("loadWithChoice() file never tries kexec_load, load never tries kexec_file_load", () => {
    expect(run("file", 38)).toEqual({ tried: ["file"], result: "throws ENOSYS" });
    expect(run("load", 38)).toEqual({ tried: ["load"], result: "load" });
    expect(run("auto", null)).toEqual({ tried: ["file"], result: "file" });
  });
});

describe("loadPlanWithKexecLoad()", () => {
  const plan = { mode: "crash" as const, kernel: "/nonexistent/vmlinuz", initrd: null, cmdline: "console=ttyS0" };

  test("loadPlanWithKexecLoad() refuses a host without kexec_load (a test fake) before reading anything", () => {
    expect(() => loadPlanWithKexecLoad(plan, undefined)).toThrow(/kexec_load is not available on this host/);
  });

  test("loadPlanWithKexecLoad() refuses --kexec staging on x86_64, which stages with kexec_file_load", () => {
    const calls = { kexecLoad: () => ({ ret: 0n, errno: 0 }) };
    expect(() => loadPlanWithKexecLoad({ ...plan, mode: "kexec" }, calls)).toThrow(UsageError);
  });
});
