// openDump() picks the reader by signature, and damaged input of every kind (truncated, corrupted headers,
// zero-length, not a dump) ends in one typed, one-line error and a non-zero exit: never a stack trace or a hang.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { analyze } from "../../lib/analyze/command.ts";
import { errorLine, KdumpError } from "../../lib/errors.ts";
import { dumpFormats, openDump } from "../../lib/dump/open.ts";
import { FakeKernel } from "../kernel/_fakekernel.ts";
import { writePrb } from "../kernel/_fakeprb.ts";
import { flattenFile, writeKdump } from "./_kdumpwriter.ts";

const ROOT = join(import.meta.dir, "..", "..");
const dir = mkdtempSync(join(tmpdir(), "kdump-open-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const files: Record<string, string> = {};

beforeAll(() => {
  const k = new FakeKernel(5, undefined, undefined, 4 << 20);
  writePrb(k, [{ text: "hello from a synthetic ring", tsNsec: 1_500_000n }, { text: "second", tsNsec: 2_000_000n }], { countBits: 4, sizeBits: 10 });
  files.elf = join(dir, "vmcore");
  writeFileSync(files.elf, k.elf());
  files.kdump = join(dir, "vmcore.kdump");
  writeKdump(openDump(files.elf), files.kdump, { codec: (pfn) => (pfn % 2 ? "zlib" : "zstd") });
  files.flat = join(dir, "vmcore.flat");
  flattenFile(files.kdump, files.flat, 8192);
});

describe("openDump()", () => {
  test("registers elf, kdump and flat, and opens each by its signature", () => {
    expect(dumpFormats.map((f) => f.name)).toEqual(["elf", "kdump", "flat"]);
    for (const [name, path] of Object.entries(files)) expect(openDump(path).format).toBe(name);
  });

  test("the log of each format is the ring's records", () => {
    for (const path of Object.values(files)) expect(analyze(path, "log")).toBe("[    0.001500] hello from a synthetic ring\n[    0.002000] second\n");
  });

  test.each([
    ["an empty file", new Uint8Array(0), "is empty"],
    ["a text file", new TextEncoder().encode("hello\n"), "is not a crash dump"],
    ["a bare ELF magic", new Uint8Array([0x7f, 0x45, 0x4c, 0x46]), "ELF header truncated"],
    ["a bare KDUMP signature", new TextEncoder().encode("KDUMP   "), "kdump header truncated"],
    ["a bare flattened signature", new TextEncoder().encode("makedumpfile\0\0\0\0"), "flattened header truncated"],
  ])("%s is a one-line DumpFormatError", (_what, bytes, message) => {
    const p = join(dir, "bad");
    writeFileSync(p, bytes);
    expect(() => openDump(p)).toThrow(message);
  });
});

/** Runs `analyze(path, "log")`; returns "ok" or the error line, failing on anything but a KdumpError. */
function outcome(path: string): string {
  try {
    analyze(path, "log");
    return "ok";
  } catch (e) {
    if (!(e instanceof KdumpError)) throw new Error(`${path}: untyped ${e instanceof Error ? e.stack : e}`);
    const line = errorLine(e);
    if (line.includes("\n")) throw new Error(`${path}: message of several lines: ${line}`);
    return line;
  }
}

describe("analyze() fuzzed over mutated dumps", () => {
  let seed = 7;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
  const SMASH = [0, 1, 0xff, 0x7fffffff, 0xffffffff];

  test.each(["elf", "kdump", "flat"])("%s: truncations, byte flips and smashed header fields end in a typed one-line error or a log", (name) => {
    const orig = readFileSync(files[name]!);
    const p = join(dir, `fuzz-${name}`);
    const seen = new Set<string>();
    const started = performance.now();
    const lengths = [0, 1, 7, 63, 64, 100, 4095, 4096, 4097, 8191, 12288, ...Array.from({ length: 20 }, () => rnd(orig.length))];
    for (const n of lengths) {
      writeFileSync(p, orig.subarray(0, n));
      seen.add(outcome(p));
    }
    for (let i = 0; i < 150; i++) {
      const b = new Uint8Array(orig);
      if (i % 2) for (let j = 0; j < 1 + rnd(4); j++) b[rnd(3 * 4096)] = rnd(256);
      else new DataView(b.buffer).setUint32(rnd(1024) & ~3, SMASH[rnd(SMASH.length)]!, true);
      writeFileSync(p, b);
      seen.add(outcome(p));
    }
    if (process.env.KDUMP_FUZZ_SHOW) console.log([...seen].join("\n"));
    expect([...seen].filter((s) => s !== "ok").length).toBeGreaterThan(3);
    expect(performance.now() - started).toBeLessThan(60_000);
  }, 120_000);
});

describe("kdump analyze on bad input (the CLI)", () => {
  const cli = (...args: string[]) => Bun.spawnSync([process.execPath, join(ROOT, "kdump.ts"), "analyze", ...args], { cwd: ROOT, env: { ...process.env, KDUMP_DEBUG: "" } });

  test.each([
    ["zero-length", () => new Uint8Array(0)],
    ["not a dump", () => new TextEncoder().encode("#!/bin/sh\necho not a dump\n")],
    ["truncated ELF", () => readFileSync(files.elf!).subarray(0, 5000)],
    ["truncated kdump", () => readFileSync(files.kdump!).subarray(0, 9000)],
    ["corrupted kdump block_size", () => {
      const b = new Uint8Array(readFileSync(files.kdump!));
      new DataView(b.buffer).setInt32(428, 3, true);
      return b;
    }],
  ])("%s: one line on stderr, nothing on stdout, exit 1", (name, bytes) => {
    const p = join(dir, `cli-${name.replace(/ /g, "-")}`);
    writeFileSync(p, bytes());
    const r = cli(p);
    const err = r.stderr.toString();
    expect(r.exitCode).toBe(1);
    expect(r.stdout.toString()).toBe("");
    expect(err).toMatch(/^kdump: [^\n]+\n$/);
  });
});
