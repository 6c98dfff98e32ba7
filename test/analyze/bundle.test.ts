// The whole report as MessagePack (`--format msgpack`) and the default report's panic bt, on real lab dumps:
// each part equals what its own command gives; a part the dump cannot answer (here: no BTF) holds an error while
// the others, and the text report's sys and log, are still there.
import { describe, expect, test } from "bun:test";
import { decode } from "@msgpack/msgpack";
import { analyze, AnalyzeContext } from "../../lib/analyze/command.ts";
import { fullReport } from "../../lib/analyze/bundle.ts";
import { reportCommand } from "../../lib/analyze/report.ts";
import { openDump } from "../../lib/dump/open.ts";
import { LINES, sysrqDump } from "../dump/_peers.ts";

const LAB = 900_000; // building a lab dump boots QEMU

const json = (vmcore: string, command: string, args: string[] = []) => JSON.parse(analyze(vmcore, command, { json: true, args }) as string);

describe.each(LINES)("the whole report on %s", (line) => {
  test("--format msgpack holds sys, log, bt -a, ps and mod as their commands give them", async () => {
    const vmcore = (await sysrqDump(line)).vmcore;
    const bytes = analyze(vmcore, undefined, { format: "msgpack" });
    expect(bytes).toBeInstanceOf(Uint8Array);
    const b = decode(bytes as Uint8Array, { useBigInt64: true }) as Record<string, any>;
    expect(Object.keys(b)).toEqual(["sys", "log", "bt", "ps", "mod"]);
    expect(b.bt).toEqual(json(vmcore, "bt", ["-a"]));
    expect(b.ps).toEqual(json(vmcore, "ps"));
    expect(b.mod).toEqual(json(vmcore, "mod"));
    expect(b.log.length).toBe(json(vmcore, "log").length);
    expect(b.sys.release).toBe(json(vmcore, "sys").release);
  }, LAB);

  test("the default report has the panic task's bt, then the cause", async () => {
    const vmcore = (await sysrqDump(line)).vmcore;
    const text = analyze(vmcore) as string;
    const bt = analyze(vmcore, "bt") as string;
    expect(text.endsWith(`\n\n${bt}\nCAUSE: panic: "sysrq triggered crash"\n`)).toBe(true);
    expect(bt).toMatch(/^PID: \d+ +TASK: [0-9a-f]{16}  CPU: \d +COMMAND: "sh"\n/);
  }, LAB);

  test("without BTF the bundle's bt, ps and mod say why and sys and log are whole; the text report too", async () => {
    const dump = openDump((await sysrqDump(line)).vmcore);
    try {
      const ctx = new AnalyzeContext(dump);
      const ks = ctx.program.symbols;
      const real = ks.lookup.bind(ks);
      ks.lookup = (name: string) => (name === "__start_BTF" ? undefined : real(name));
      const b = fullReport(ctx) as Record<string, any>;
      for (const part of ["bt", "ps", "mod"]) expect(b[part]).toEqual({ error: expect.stringMatching(/^the kernel has no BTF/) });
      expect(b.sys.release).toBe(ctx.kernel.info.osrelease);
      expect(b.log.length).toBeGreaterThan(100);
      const text = reportCommand.run(ctx).text;
      expect(text).toContain(`RELEASE: ${ctx.kernel.info.osrelease}`);
      expect(text).toMatch(/Kernel panic - not syncing/);
      expect(text).toMatch(/\nbt: the kernel has no BTF/);
    } finally {
      dump.close();
    }
  }, LAB);
});
