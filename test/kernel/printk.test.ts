// readPrintk() returns the records a ring holds with their fields; the pre-5.10 log_buf is read as vmcore-dmesg
// reads it (its oracle on synthetic rings), except for the end-of-buffer marker it prints as an empty line.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { analyze } from "../../lib/analyze/command.ts";
import { BadDataError, MissingDataError } from "../../lib/errors.ts";
import { openKernel } from "../../lib/kernel/open.ts";
import { readPrintk } from "../../lib/kernel/printk.ts";
import { vmcoreDmesgRaw } from "../dump/_peers.ts";
import { FakeKernel } from "./_fakekernel.ts";
import { writeLogBuf, type FakeLogRecord } from "./_fakelogbuf.ts";
import { writePrb } from "./_fakeprb.ts";

const dir = mkdtempSync(join(tmpdir(), "kdump-printk-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("readPrintk() on a lockless ring", () => {
  test("gives seq, timestamp, level, facility, caller id and text of each committed record", () => {
    const k = new FakeKernel(5);
    writePrb(
      k,
      [
        { text: "emerg from cpu 1", tsNsec: 10n, level: 0, facility: 0, callerId: 0x80000001 },
        { text: "user daemon info", tsNsec: 20n, level: 6, facility: 3, callerId: 4242 },
        { text: "never committed", tsNsec: 30n, state: 0 },
      ],
      { countBits: 3, sizeBits: 9, firstId: 5n },
    );
    const r = readPrintk(openKernel(k.dump()));
    expect(r.map((x) => [x.seq, x.tsNsec, x.level, x.facility, x.callerId, new TextDecoder().decode(x.text)])).toEqual([
      [100n, 10n, 0, 0, 0x80000001, "emerg from cpu 1"],
      [101n, 20n, 6, 3, 4242, "user daemon info"],
    ]);
  });

  test("ids that do not fit the ring are a BadDataError", () => {
    const k = new FakeKernel(4);
    writePrb(k, [{ text: "a", tsNsec: 1n }], { countBits: 2, sizeBits: 8 });
    const v = new DataView(k.phys.buffer);
    v.setBigUint64(k.imagePhys + 0x8000 + 64 + 24, 1000n, true); // head_id far beyond tail_id + count
    expect(() => readPrintk(openKernel(k.dump()))).toThrow(BadDataError);
  });

  test("a kernel with neither ring is a MissingDataError", () => {
    expect(() => readPrintk(openKernel(new FakeKernel(4).dump()))).toThrow(MissingDataError);
  });
});

async function legacy(records: FakeLogRecord[], bufLen: number, firstIdx: number) {
  const k = new FakeKernel(4);
  writeLogBuf(k, records, bufLen, firstIdx);
  const path = join(dir, `logbuf-${firstIdx}`);
  writeFileSync(path, k.elf());
  const peer = await vmcoreDmesgRaw(path);
  expect(peer.exitCode).toBe(0);
  return { k, ours: analyze(path, "log"), peer: peer.stdout.toString("latin1") };
}

describe("readPrintk() on the structured log_buf (3.5–5.9)", () => {
  const recs: FakeLogRecord[] = [
    { text: "first", tsNsec: 1_000_000n, level: 5 },
    { text: "second, a longer one", tsNsec: 2_000_000n, facility: 1, level: 4 },
    { text: "third", tsNsec: 3_000_000n },
  ];

  test("equals vmcore-dmesg when the buffer has not wrapped, with level and facility", async () => {
    const r = await legacy(recs, 512, 0);
    expect(r.ours).toBe(r.peer);
    expect(readPrintk(openKernel(r.k.dump())).map((x) => [x.seq, x.level, x.facility, x.callerId])).toEqual([
      [null, 5, 0, null],
      [null, 4, 1, null],
      [null, 6, 0, null],
    ]);
  });

  test("after a wrap, skips the end-of-buffer marker that vmcore-dmesg prints as an empty line at 0.000000", async () => {
    const r = await legacy(recs, 160, 96);
    expect(r.peer).toBe(r.ours.replace("[    0.002000] second", "[    0.000000] \n[    0.002000] second"));
    expect(r.ours).toBe("[    0.001000] first\n[    0.002000] second, a longer one\n[    0.003000] third\n");
  });
});
