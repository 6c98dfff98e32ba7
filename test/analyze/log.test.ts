// The log equals Debian's vmcore-dmesg (kexec-tools 2.0.25) byte for byte: on real crashes of both kernel lines
// read from the ELF dump, makedumpfile's -c/-l/-F outputs and our snappy/zstd files; on synthetic rings for the
// corner cases (wrapped blocks, stale and reserved descriptors, truncated records, id wrap-around).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { analyze } from "../../lib/analyze/command.ts";
import { escapeText, formatDmesg, timestamp } from "../../lib/analyze/log.ts";
import { openDump } from "../../lib/dump/open.ts";
import { openKernel } from "../../lib/kernel/open.ts";
import { readPrintk } from "../../lib/kernel/printk.ts";
import type { LabDump } from "../lab/dumps.ts";
import { drgnJson } from "../kernel/_drgn.ts";
import { debugKernel } from "../kernel/_images.ts";
import { FakeKernel } from "../kernel/_fakekernel.ts";
import { writePrb, type FakeRecord } from "../kernel/_fakeprb.ts";
import { expectBytes, fourLevelDump, kmsgDump, LINES, makedumpfileOutput, ourKdump, sysrqDump, vmcoreDmesg, vmcoreDmesgRaw } from "../dump/_peers.ts";
import { removeScratch, scratchDir } from "../_scratch.ts";

afterAll(removeScratch);

const LAB = 900_000; // building a lab dump boots QEMU (about a minute under TCG)

describe.each(LINES)("analyze log on a %s sysrq crash", (line) => {
  let dump: LabDump;
  let peer: Buffer;
  beforeAll(async () => {
    dump = await sysrqDump(line);
    peer = await vmcoreDmesg(dump.vmcore);
  }, LAB);

  test("equals vmcore-dmesg byte for byte from the ELF dump", () => {
    expect(peer.length).toBeGreaterThan(10_000);
    expectBytes(analyze(dump.vmcore, "log"), peer);
  });

  test.each(["c", "l", "F", "E"] as const)("equals vmcore-dmesg byte for byte from makedumpfile -%s -d 31", async (mode) => {
    const file = await makedumpfileOutput(dump.vmcore, mode);
    expectBytes(analyze(file, "log"), peer);
  }, LAB);

  test.each(["snappy", "zstd"] as const)("equals vmcore-dmesg byte for byte from a %s kdump-compressed file", async (codec) => {
    const file = await ourKdump(dump.vmcore, codec);
    expectBytes(analyze(file, "log"), peer);
  }, LAB);
});

test("analyze log equals vmcore-dmesg on a 6.1 crash with 4-level page tables", async () => {
  const dump = await fourLevelDump("6.1");
  expectBytes(analyze(dump.vmcore, "log"), await vmcoreDmesg(dump.vmcore));
}, LAB);

describe.each(LINES)("analyze log on a %s crash after odd /dev/kmsg writes", (line) => {
  let dump: LabDump;
  let peer: Buffer;
  beforeAll(async () => {
    dump = await kmsgDump(line);
    peer = await vmcoreDmesg(dump.vmcore);
  }, LAB);

  test("escapes control and high bytes and keeps multi-line records as vmcore-dmesg does", () => {
    const text = peer.toString("latin1");
    expect(text).toContain("kdump-test: ctrl \\x01\\x02\\x1b[1mbold");
    expect(text).toContain("kdump-test: first line\nsecond line\n\nfourth");
    expectBytes(analyze(dump.vmcore, "log"), peer);
  });

  test("log --json records equal drgn's get_printk_records (seq, timestamp, level, facility, caller, text)", async () => {
    const { vmlinux } = await debugKernel(line);
    type R = { seq: number; ts: number; level: number; facility: number; tid: number | null; cpu: number | null; text: string };
    const theirs = await drgnJson<R[]>(
      vmlinux,
      `print(json.dumps([{"seq": r.seq, "ts": r.timestamp, "level": r.level, "facility": r.facility, "tid": r.caller_tid, "cpu": r.caller_cpu, "text": r.text.decode("latin1")} for r in get_printk_records(prog)]))`,
      dump.vmcore,
    );
    const ours = readPrintk(openKernel(openDump(dump.vmcore)));
    expect(ours.length).toBe(theirs.length);
    const user = ours.filter((r) => Buffer.from(r.text).toString("latin1").startsWith("kdump-test:"));
    expect(user.map((r) => [r.facility, r.level])).toEqual([[1, 4], [3, 6], [1, 3]]);
    ours.forEach((r, i) => {
      const t = theirs[i]!;
      expect([Number(r.seq), Number(r.tsNsec), r.level, r.facility, Buffer.from(r.text).toString("latin1")]).toEqual([t.seq, t.ts, t.level, t.facility, t.text]);
      const id = r.callerId!;
      const caller: { tid: number | null; cpu: number | null } = id & 0x80000000 ? { tid: null, cpu: id & 0x7fffffff } : { tid: id, cpu: null };
      expect(caller).toEqual({ tid: t.tid, cpu: t.cpu });
    });
  }, LAB);
});

// Synthetic rings: each is written into a fake kernel image with a kernel-text PT_LOAD, so vmcore-dmesg reads it
// too and stays the oracle.
async function bothOn(records: FakeRecord[], shape: Parameters<typeof writePrb>[2], levels: 4 | 5 = 5) {
  const k = new FakeKernel(levels);
  writePrb(k, records, shape);
  const dir = scratchDir("kdump-log-");
  const path = join(dir, "vmcore");
  writeFileSync(path, k.elf());
  const peer = await vmcoreDmesgRaw(path);
  expect(peer.exitCode).toBe(0);
  return { ours: analyze(path, "log"), peer: peer.stdout };
}

describe("analyze log on synthetic rings", () => {
  test("matches vmcore-dmesg when blocks wrap the ring's end and ids wrap past 2^62", async () => {
    const r = await bothOn(
      [
        { text: "one", tsNsec: 1_000_000_001n },
        { text: "two: this block crosses the end of the data ring", tsNsec: 2_500_000_000n },
        { text: "three", tsNsec: 99_999_999_999_999n },
        { text: "four\nwith a second line", tsNsec: 123n },
      ],
      { countBits: 2, sizeBits: 7, firstId: (1n << 62n) - 2n, firstLpos: 128 - 16 },
    );
    expect(r.peer.toString()).toContain("] two: this block crosses");
    expectBytes(r.ours, r.peer);
  });

  test("matches vmcore-dmesg on reserved, reusable and stale descriptors, empty and truncated records", async () => {
    const r = await bothOn(
      [
        { text: "finalized", tsNsec: 1n },
        { text: "committed", tsNsec: 2n, state: 1 },
        { text: "reserved", tsNsec: 3n, state: 0 },
        { text: "reusable", tsNsec: 4n, state: 3 },
        { text: "stale", tsNsec: 5n, staleId: 12345n },
        { text: "", tsNsec: 6n },
        { text: "truncated here", tsNsec: 7n, textLen: 200 },
        { text: new Uint8Array([0x61, 0x00, 0x7f, 0x80, 0xff, 0x0b, 0x0c, 0x62]), tsNsec: 8n },
      ],
      { countBits: 3, sizeBits: 10 },
      4,
    );
    expect(r.peer.toString()).not.toContain("reserved");
    expect(r.peer.toString()).toContain("committed");
    expectBytes(r.ours, r.peer);
  });
});

describe("timestamp() and escapeText()", () => {
  test("timestamp() pads seconds to 5 and truncates to microseconds like %5lu.%06lu", () => {
    expect(timestamp(0n)).toBe("    0.000000");
    expect(timestamp(1_999_999_999n)).toBe("    1.999999");
    expect(timestamp(123_456_789_012_345_678n)).toBe("123456789.012345");
  });
  test("escapeText() keeps printable ASCII and C isspace() bytes, escapes the rest as \\xNN", () => {
    expect(escapeText(new Uint8Array([0x41, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x7e]))).toBe("A\t\n\v\f\r ~");
    expect(escapeText(new Uint8Array([0x00, 0x08, 0x0e, 0x1f, 0x7f, 0x80, 0xff]))).toBe("\\x00\\x08\\x0e\\x1f\\x7f\\x80\\xff");
  });
  test("formatDmesg() of no records is empty", () => {
    expect(formatDmesg([])).toBe("");
  });
});
