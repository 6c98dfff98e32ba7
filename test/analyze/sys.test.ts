// sys reads, from the dump alone, what drgn reads with DWARF (utsname) and what the crashed kernel printed on its
// serial console (memory, panic message, CPUs brought up); panicString() picks crash's PANIC line.
import { beforeAll, describe, expect, test } from "bun:test";
import { statSync } from "node:fs";
import { AnalyzeContext } from "../../lib/analyze/command.ts";
import { formatSys, panicString, readSys, uptime, type SysInfo } from "../../lib/analyze/sys.ts";
import { openDump } from "../../lib/dump/open.ts";
import { LINES, makedumpfileOutput, sysrqDump, vmcoreDmesg } from "../dump/_peers.ts";
import type { LabDump } from "../lab/dumps.ts";
import { drgnJson } from "../kernel/_drgn.ts";
import { debugKernel } from "../kernel/_images.ts";

const LAB = 900_000;

describe.each(LINES)("readSys() on a %s crash", (line) => {
  let lab: LabDump;
  let sys: SysInfo;
  beforeAll(async () => {
    lab = await sysrqDump(line);
    sys = readSys(new AnalyzeContext(openDump(lab.vmcore)));
  }, LAB);

  test("utsname fields equal drgn's init_uts_ns", async () => {
    const { vmlinux } = await debugKernel(line);
    const u = await drgnJson<Record<string, string>>(
      vmlinux,
      `n = prog["init_uts_ns"].name; print(json.dumps({k: getattr(n, k).string_().decode() for k in ["release", "version", "machine", "nodename"]}))`,
      lab.vmcore,
    );
    expect({ release: sys.release, version: sys.version, machine: sys.machine, nodename: sys.nodename }).toEqual(u as never);
  }, LAB);

  test("CPUs, memory and the panic message match what the crashed kernel printed on its console", () => {
    const crashed = lab.console.slice(0, lab.console.indexOf("Kernel panic - not syncing"));
    expect(sys.cpus).toBe(Number(/smp: Brought up \d+ nodes?, (\d+) CPUs/.exec(crashed)![1]));
    expect(sys.memory).toBe(Number(/Memory: \d+K\/(\d+)K available/.exec(crashed)![1]) * 1024);
    expect(sys.panic).toBe(/Kernel panic - not syncing: (.*)/.exec(lab.console)![1]!.trim());
  });

  test("crash time is just before the dump was written; uptime is the last log timestamp", async () => {
    const written = statSync(lab.vmcore).mtimeMs / 1000;
    expect(sys.crashTime!).toBeLessThanOrEqual(written + 1);
    expect(sys.crashTime!).toBeGreaterThan(written - 600);
    const last = (await vmcoreDmesg(lab.vmcore)).toString().trimEnd().split("\n").pop()!;
    const [s, us] = /^\[\s*(\d+)\.(\d+)\]/.exec(last)!.slice(1).map(Number) as [number, number];
    expect(sys.uptimeNsec! / 1000n).toBe(BigInt(s * 1_000_000 + us));
  });

  test("is the same from makedumpfile -l output, but for the file and format", async () => {
    const l = readSys(new AnalyzeContext(openDump(await makedumpfileOutput(lab.vmcore, "l"))));
    expect({ ...l, dumpfile: "", format: "" }).toEqual({ ...sys, dumpfile: "", format: "" });
    expect(l.format).toBe("kdump");
  }, LAB);
});

describe("panicString()", () => {
  test("prefers the last 'Kernel panic - not syncing' message", () => {
    expect(panicString(["BUG: soft lockup", "Kernel panic - not syncing: Fatal exception", "Kernel panic - not syncing: sysrq triggered crash"])).toBe("sysrq triggered crash");
  });
  test("without one (panic_on_oops kexecs first), gives the first marker line of the last oops", () => {
    const oops = [
      "BUG: kernel NULL pointer dereference, address: 0000000000000000",
      "#PF: supervisor write access in kernel mode",
      "#PF: error_code(0x0002) - not-present page",
      "PGD 0 P4D 0 ",
      "Oops: 0002 [#1] PREEMPT SMP NOPTI",
      "CPU: 0 PID: 1 Comm: sh",
    ];
    expect(panicString(["BUG: an old warning long ago", ...Array(20).fill("x"), ...oops])).toBe("BUG: kernel NULL pointer dereference, address: 0000000000000000");
    expect(panicString(["all quiet"])).toBeNull();
  });
});

describe("formatSys() and uptime()", () => {
  test("uptime() prints crash's [N days, ]HH:MM:SS", () => {
    expect(uptime(6_870_609_584n)).toBe("00:00:06");
    expect(uptime(BigInt(3 * 86400 + 3661) * 1_000_000_000n)).toBe("3 days, 01:01:01");
  });
  test("formatSys() aligns crash's labels and marks what is unknown", () => {
    const text = formatSys({ dumpfile: "/d/vmcore", format: "elf", release: "6.1.0", version: null, machine: "x86_64", nodename: "lab", cpus: 2, memory: 1073184768, crashTime: 0, uptimeNsec: null, panic: "sysrq triggered crash" });
    expect(text).toBe(
      [
        "    DUMPFILE: /d/vmcore  [elf]",
        "        CPUS: 2",
        "        DATE: Thu Jan  1 00:00:00 UTC 1970",
        "      UPTIME: (unknown)",
        "    NODENAME: lab",
        "     RELEASE: 6.1.0",
        "     VERSION: (unknown)",
        "     MACHINE: x86_64",
        "      MEMORY: 1023 MiB",
        '       PANIC: "sysrq triggered crash"',
        "",
      ].join("\n"),
    );
  });
});
