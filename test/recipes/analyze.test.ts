// recipes/analyze.ts, run as a user would (`kdump recipes/analyze.ts --path DIR`), prints the report of the
// newest dump in the folder and fails with one line when there is none.
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { FakeKernel } from "../kernel/_fakekernel.ts";
import { writePrb } from "../kernel/_fakeprb.ts";
import { crashFolder } from "../dump/_crashfolder.ts";
import { removeScratch, scratchDir } from "../_scratch.ts";

afterAll(removeScratch);

const ROOT = join(import.meta.dir, "..", "..");
const recipe = (...args: string[]) =>
  Bun.spawnSync([process.execPath, join(ROOT, "kdump.ts"), join(ROOT, "recipes/analyze.ts"), ...args], { cwd: ROOT, env: { ...process.env, KDUMP_DEBUG: "" } });

function vmcore(panic: string): Uint8Array {
  const k = new FakeKernel(4);
  writePrb(k, [{ text: "booting", tsNsec: 1n }, { text: `Kernel panic - not syncing: ${panic}`, tsNsec: 2_000_000_000n }], { countBits: 3, sizeBits: 10 });
  return k.elf();
}

describe("recipes/analyze.ts", () => {
  test("prints the report of the newest dump under --path", () => {
    const root = crashFolder({
      "10.0.0.1-2026-11-20-08:00:00/vmcore": { bytes: vmcore("the old one"), ageSeconds: 3600 },
      "202611230900/dump.202611230900": { bytes: vmcore("the newest one"), ageSeconds: 60 },
    });
    const r = recipe("--path", root);
    const out = r.stdout.toString();
    expect(r.exitCode).toBe(0);
    expect(out).toContain(`kdump analyze ${join(root, "202611230900/dump.202611230900")}`);
    expect(out).toContain('PANIC: "the newest one"');
    expect(out).toContain("[    2.000000] Kernel panic - not syncing: the newest one\n");
    expect(out).not.toContain("the old one");
  });

  test("a folder without dumps is one line on stderr and exit 1", () => {
    const empty = scratchDir("kdump-recipe-");
    writeFileSync(join(empty, "notes.txt"), "nothing here");
    const r = recipe("--path", empty);
    expect(r.exitCode).toBe(1);
    expect(r.stderr.toString()).toMatch(/^kdump: no crash dump under .*: give the folder kdump saves dumps to with --path\n$/);
  });
});
