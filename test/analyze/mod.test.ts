// mod on real lab dumps: equal to crash's mod (with the -dbg vmlinux) on 6.1, where crash opens the dump; on both
// lines the modules of an oops (our test module loading) are the kernel's own "Modules linked in:" list, in order.
import { describe, expect, test } from "bun:test";
import { analyze } from "../../lib/analyze/command.ts";
import { formatMod, type ModRow } from "../../lib/analyze/mod.ts";
import { LINES, sysrqDump } from "../dump/_peers.ts";
import { debugKernel } from "../kernel/_images.ts";
import { modulesLinkedIn } from "./_calltrace.ts";
import { crashModRows, crashOutput } from "./_crash.ts";
import { oopsDump } from "./_oops.ts";

const LAB = 900_000; // building a lab dump boots QEMU

const mods = (vmcore: string) => (JSON.parse(analyze(vmcore, "mod", { json: true }) as string) as { modules: ModRow[] }).modules;

test("mod equals crash's mod on a 6.1 dump (struct module, name, base, size)", async () => {
  const vmcore = (await sysrqDump("6.1")).vmcore;
  const want = crashModRows(await crashOutput(vmcore, (await debugKernel("6.1")).vmlinux, ["mod"]));
  expect(want.length).toBeGreaterThan(3);
  // crash sorts by struct module address; we keep the kernel's list order (lsmod's, and the oops line's)
  const ours = mods(vmcore).map(({ module, name, base, size }) => ({ module, name, base, size }));
  expect(ours.sort((a, b) => a.module.localeCompare(b.module))).toEqual(want);
}, LAB);

describe.each(LINES)("mod on %s", (line) => {
  test("mod lists the modules the kernel named in its oops, in order, the loading one as coming", async () => {
    const vmcore = (await oopsDump(line, "init")).vmcore;
    const rows = mods(vmcore);
    expect(rows.map((r) => r.name)).toEqual(modulesLinkedIn(vmcore));
    expect(rows[0]).toMatchObject({ name: "oops", state: "coming" });
    for (const r of rows) expect(r.size).toBeGreaterThan(0);
  }, LAB);
});

test("formatMod() lays out crash's columns", () => {
  const text = formatMod([{ module: "0xffffffffc03bc340", name: "virtio_ring", base: "0xffffffffc03b5000", size: 49152, state: "live", symbols: 1 }]);
  // crash 8.0.2's header and row, without its OBJECT FILE column
  expect(text).toBe("     MODULE       NAME                         BASE         SIZE\nffffffffc03bc340  virtio_ring            ffffffffc03b5000  49152\n");
});
