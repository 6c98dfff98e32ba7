// FlatSource serves a flattened (-F) file as the file makedumpfile -R reassembles from it, byte for byte; random
// overlapping records are checked against replaying the writes in order, and damaged files give one clear error.
import { beforeAll, describe, expect, test } from "bun:test";
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { DumpFormatError } from "../../lib/errors.ts";
import { FlatSource } from "../../lib/dump/flattened.ts";
import { BufferSource, FileSource } from "../../lib/dump/source.ts";
import { concat } from "./_elfwriter.ts";
import { LINES, makedumpfileOutput, reassembled, sysrqDump } from "./_peers.ts";

const LAB = 900_000;

describe.each(LINES)("FlatSource on makedumpfile -F output of a %s crash", (line) => {
  let flat: string;
  let plain: string;
  beforeAll(async () => {
    flat = await makedumpfileOutput((await sysrqDump(line)).vmcore, "F");
    plain = await reassembled(flat);
  }, LAB);

  test("equals makedumpfile -R's reassembled file byte for byte", () => {
    const src = new FlatSource(new FileSource(flat), flat);
    expect(src.size).toBe(statSync(plain).size);
    const fd = openSync(plain, "r");
    const want = new Uint8Array(1 << 20);
    try {
      for (let off = 0; off < src.size; off += want.length) {
        const n = readSync(fd, want, 0, Math.min(want.length, src.size - off), off);
        const got = src.read(off, n);
        if (Buffer.compare(Buffer.from(got), Buffer.from(want.subarray(0, n))) !== 0) throw new Error(`differs in the MiB at 0x${off.toString(16)}`);
      }
    } finally {
      closeSync(fd);
    }
  });
});

/** A flattened file of `records` ({offset, data}), with or without the end marker. */
function flatten(records: { offset: number; data: Uint8Array }[], end = true): Uint8Array {
  const header = new Uint8Array(4096);
  header.set(new TextEncoder().encode("makedumpfile"));
  new DataView(header.buffer).setBigInt64(16, 1n); // type (8)
  new DataView(header.buffer).setBigInt64(24, 1n); // version (8)
  const parts: Uint8Array[] = [header];
  for (const r of records) {
    const h = new Uint8Array(16);
    new DataView(h.buffer).setBigInt64(0, BigInt(r.offset)); // offset (8)
    new DataView(h.buffer).setBigInt64(8, BigInt(r.data.length)); // buf_size (8)
    parts.push(h, r.data);
  }
  if (end) parts.push(new Uint8Array(16).fill(0xff));
  return concat(parts);
}

describe("FlatSource on synthetic records", () => {
  test("random overlapping writes read as replaying them in order, holes as zeros", () => {
    let seed = 42;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
    for (let round = 0; round < 50; round++) {
      const records = Array.from({ length: 1 + rnd(30) }, (_, i) => ({ offset: rnd(5000), data: new Uint8Array(rnd(700)).fill(i + 1) }));
      const size = Math.max(...records.map((r) => r.offset + r.data.length));
      const replay = new Uint8Array(size);
      for (const r of records) replay.set(r.data, r.offset);
      const src = new FlatSource(new BufferSource(flatten(records)), "t");
      expect(src.size).toBe(size);
      expect(Buffer.from(src.read(0, size))).toEqual(Buffer.from(replay));
      const a = rnd(size);
      const n = rnd(size - a);
      expect(Buffer.from(src.read(a, n))).toEqual(Buffer.from(replay.subarray(a, a + n)));
    }
  });

  test.each([
    ["no end marker", flatten([{ offset: 0, data: new Uint8Array(10) }], false), "records end without the end marker"],
    ["a record past the end of the file", flatten([{ offset: 0, data: new Uint8Array(10) }]).slice(0, 4096 + 16 + 5), "runs past the end of the file"],
    ["a negative offset", flatten([{ offset: -5, data: new Uint8Array(10) }]), "record with offset -5"],
    ["a short header", new Uint8Array(100), "flattened header truncated"],
  ])("a file with %s is a DumpFormatError", (_what, bytes, message) => {
    expect(() => new FlatSource(new BufferSource(bytes), "t")).toThrow(DumpFormatError);
    expect(() => new FlatSource(new BufferSource(bytes), "t")).toThrow(message);
  });

  test("reads past the reassembled size are a DumpFormatError", () => {
    const src = new FlatSource(new BufferSource(flatten([{ offset: 10, data: new Uint8Array(10).fill(7) }])), "t");
    expect([...src.read(8, 4)]).toEqual([0, 0, 7, 7]);
    expect(() => src.read(15, 10)).toThrow(DumpFormatError);
  });
});
