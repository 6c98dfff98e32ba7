// The flattened stream (--out -): makedumpfile -R rebuilds from it the very file we write to a directory, and
// our reader opens the stream as it is.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $ } from "bun";
import { analyze } from "../../lib/analyze/command.ts";
import { FlatSink, flatHeader } from "../../lib/dump/flat_writer.ts";
import { FlatSource } from "../../lib/dump/flattened.ts";
import { BufferSource } from "../../lib/dump/source.ts";
import { sysrqDump } from "./_peers.ts";
import { debugKernel } from "../kernel/_images.ts";
import { collectTemp, dumpFolder } from "./_makedumpfile.ts";

const KDUMP = join(import.meta.dir, "..", "..", "kdump.ts");

describe("FlatSink", () => {
  test("`kdump collect --out -` streams what makedumpfile -R turns back into our kdump-compressed file", async () => {
    const { vmcore } = await sysrqDump("6.1");
    const tmp = mkdtempSync(join(tmpdir(), "flat-"));
    const r = await collectTemp(vmcore, { compress: "zlib" });
    try {
      const flat = join(tmp, "stream");
      const run = await $`${process.execPath} ${KDUMP} collect --from ${vmcore} --out - --compress zlib --threads 2 > ${flat}`.quiet().nothrow();
      expect(run.exitCode).toBe(0);
      expect(run.stderr.toString()).toContain("saved stdout (flat, zlib, -d 31)");
      await $`makedumpfile -R ${join(tmp, "R")} < ${flat}`.quiet();
      expect(readFileSync(join(tmp, "R")).equals(readFileSync(join(dumpFolder(r.dir), "vmcore")))).toBe(true);
      expect(analyze(flat, "log")).toBe(analyze(vmcore, "log"));
    } finally {
      r.cleanup();
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 300_000);

  test("a later write over the same offset wins, and the stream ends with the end marker", async () => {
    const parts: Uint8Array[] = [];
    const sink = new FlatSink({ write: (d) => void parts.push(d.slice()), end: async () => {} });
    await sink.write(0, new Uint8Array(8192).fill(1));
    await sink.write(4096, new Uint8Array([9, 9]));
    await sink.finish();
    const stream = Buffer.concat(parts);
    expect(stream.subarray(0, 4096).equals(Buffer.from(flatHeader()))).toBe(true);
    expect(stream.subarray(-16).equals(Buffer.alloc(16, 0xff))).toBe(true);
    const src = new FlatSource(new BufferSource(stream), "mem");
    expect([...src.read(4095, 4)]).toEqual([1, 9, 9, 1]);
    expect(src.size).toBe(8192);
  });

  // issue 18: the stream held the header twice (incomplete, then rewritten) and crash 8.0.2 warned
  // "This dumpfile is incomplete" on it, as it does not on makedumpfile's own -F files
  test("the stream holds one record for offset 0, complete, and crash 8.0.2 opens it without 'incomplete'", async () => {
    const { vmcore } = await sysrqDump("6.1");
    const tmp = mkdtempSync(join(tmpdir(), "flat-"));
    try {
      const flat = join(tmp, "stream");
      await $`${process.execPath} ${KDUMP} collect --from ${vmcore} --out - --compress zlib --threads 0 > ${flat}`.quiet();
      const bytes = readFileSync(flat);
      const zeroRecords: number[] = [];
      for (let pos = 4096; ; ) {
        const off = bytes.readBigInt64BE(pos);
        if (off === -1n) break;
        if (off === 0n) zeroRecords.push(pos);
        pos += 16 + Number(bytes.readBigInt64BE(pos + 8));
      }
      expect(zeroRecords.length).toBe(1);
      expect(bytes.readUInt32LE(zeroRecords[0]! + 16 + 424) & 0x8).toBe(0); // status without DUMP_DH_COMPRESSED_INCOMPLETE
      const cmds = join(tmp, "cmds");
      await Bun.write(cmds, "sys\nquit\n");
      const r = await $`crash -s ${(await debugKernel("6.1")).vmlinux} ${flat} -i ${cmds}`.quiet().nothrow();
      const out = r.stdout.toString() + r.stderr.toString();
      expect(out).toContain("RELEASE: 6.1");
      expect(out).not.toContain("incomplete");
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 600_000);
});
