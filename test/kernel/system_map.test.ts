// System.map as the way to kallsyms for kernels whose VMCOREINFO does not say where it is (before 6.0): the
// build's real map (Debian -dbg) gives the same symbols as VMCOREINFO does; a map of another build, a corrupted
// one and Debian's placeholder are refused with a clear message; the report still prints what needs no symbols.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { $ } from "bun";
import { openDump } from "../../lib/dump/open.ts";
import { RefusedError } from "../../lib/errors.ts";
import { fetchKernel } from "../../lib/lab/kernels.ts";
import { openKernel } from "../../lib/kernel/open.ts";
import { KernelProgram } from "../../lib/kernel/program.ts";
import type { KallsymsAddrs } from "../../lib/kernel/kallsyms.ts";
import { kallsymsAddrs, parseSystemMap } from "../../lib/kernel/system_map.ts";
import type { KernelView } from "../../lib/kernel/view.ts";
import { Vmcoreinfo } from "../../lib/kernel/vmcoreinfo.ts";
import { LINES, sysrqDump } from "../dump/_peers.ts";
import { debugKernel } from "./_images.ts";
import { removeScratch, scratchDir } from "../_scratch.ts";

afterAll(removeScratch);

const LAB = 900_000; // building a lab dump boots QEMU
const KDUMP = join(import.meta.dir, "..", "..", "kdump.ts");

/** The same kernel view with VMCOREINFO's kallsyms lines removed, as a pre-6.0 kernel would export it. */
function withoutKallsyms(view: KernelView): KernelView {
  const text = view.dump.vmcoreinfo!.split("\n").filter((l) => !l.startsWith("SYMBOL(kallsyms_")).join("\n");
  return Object.create(view, { info: { value: new Vmcoreinfo(text) } }) as KernelView;
}

describe.each(LINES)("System.map on %s", (line) => {
  let view: KernelView;
  let vmcore: string;
  let map: string;
  let other: string;
  const dir = scratchDir("kdump-sysmap-");
  beforeAll(async () => {
    vmcore = (await sysrqDump(line)).vmcore;
    view = openKernel(openDump(vmcore));
    map = (await debugKernel(line)).systemMap;
    other = (await debugKernel(line === "6.1" ? "6.12" : "6.1")).systemMap;
  }, LAB);

  test("kallsymsAddrs() with the build's map finds the tables VMCOREINFO names", () => {
    const fromMap = kallsymsAddrs(withoutKallsyms(view), map);
    expect(fromMap.source).toBe("system-map");
    const info = view.info;
    for (const t of ["num_syms", "names", "token_table", "token_index", "offsets", "relative_base"] as const)
      expect(fromMap.candidates[0]![t]).toBe(info.symbol(`kallsyms_${t}`));
    const p = new KernelProgram(withoutKallsyms(view), { systemMap: map });
    expect(p.symbols.lookup("init_task")).toBe(new KernelProgram(view).symbols.lookup("init_task"));
  }, 60_000);

  test("without VMCOREINFO's kallsyms and without a map the kernel image is scanned for the tables", () => {
    const found = kallsymsAddrs(withoutKallsyms(view));
    expect(found.source).toBe("scan");
    const want = Object.fromEntries(["num_syms", "names", "token_table", "token_index", "offsets", "relative_base"].map((t) => [t, view.info.symbol(`kallsyms_${t}`)])) as unknown as KallsymsAddrs;
    expect(found.candidates).toContainEqual(want);
    expect(new KernelProgram(withoutKallsyms(view)).symbols.lookup("init_task")).toBe(new KernelProgram(view).symbols.lookup("init_task"));
  }, 60_000);

  test("when nothing locates kallsyms the message says to give a System.map", () => {
    const unreadable = () => {
      throw new RefusedError("not readable");
    };
    expect(() => kallsymsAddrs(withoutKallsyms(view), undefined, unreadable)).toThrow(/does not say where kallsyms is.*no kallsyms tables/);
  }, 60_000);

  test("a System.map of another build is refused, naming the symbol that differs", () => {
    expect(() => kallsymsAddrs(view, other)).toThrow(RefusedError);
    expect(() => kallsymsAddrs(view, other)).toThrow(/does not match the dump: \w+ is 0x[0-9a-f]+ by it, 0x[0-9a-f]+ in VMCOREINFO/);
  }, 60_000);

  test("a corrupted System.map is refused: moved linux_banner, garbage lines", () => {
    const lines = readFileSync(map, "utf8").split("\n");
    const moved = lines.map((l) => (l.endsWith(" linux_banner") ? l.replace(/^[0-9a-f]+/, (a) => (BigInt("0x" + a) + 0x40n).toString(16)) : l));
    writeFileSync(join(dir, "moved"), moved.join("\n"));
    expect(() => kallsymsAddrs(withoutKallsyms(view), join(dir, "moved"))).toThrow(/linux_banner there reads/);
    writeFileSync(join(dir, "garbage"), lines.map((l, i) => (i % 10 ? l : "\u0000\u00ff garbage")).join("\n"));
    expect(() => kallsymsAddrs(view, join(dir, "garbage"))).toThrow(/is not a usable System.map/);
  }, 60_000);

  test("the report with a wrong System.map still prints sys and the log, and says why bt is missing", async () => {
    const r = await $`bun ${KDUMP} analyze ${vmcore} --system-map ${other}`.quiet().nothrow();
    const out = r.stdout.toString();
    expect(r.exitCode).toBe(0);
    expect(out).toContain(`RELEASE: ${view.info.osrelease}`);
    expect(out).toMatch(/Kernel panic - not syncing: sysrq triggered crash/);
    expect(out).toMatch(/\nbt: .* does not match the dump: /);
    const bt = await $`bun ${KDUMP} analyze ${vmcore} bt --system-map ${other}`.quiet().nothrow();
    expect(bt.exitCode).toBe(1);
    expect(bt.stderr.toString()).toMatch(/^kdump: .* does not match the dump: .*\n$/);
  }, 60_000);
});

test("parseSystemMap() refuses Debian's placeholder /boot/System.map", async () => {
  const k = await fetchKernel("6.1");
  const placeholder = join(k.vmlinuz, "..", `System.map-${k.release}`);
  expect(() => parseSystemMap(readFileSync(placeholder, "utf8"), placeholder)).toThrow(/is not a usable System.map/);
}, 60_000);
