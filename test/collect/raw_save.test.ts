// The next boot's save of a raw target: a flattened stream on a "partition" (a file with old bytes after the
// stream) reassembled as makedumpfile -R does, checked byte for byte against makedumpfile 1.7.2's -R.
import { afterAll, expect, test } from "bun:test";
import { appendFileSync, copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $ } from "bun";
import { collect } from "../../lib/collect/collect.ts";
import { rawDumpPending, saveRawDump } from "../../lib/collect/raw_save.ts";
import { analyze } from "../../lib/analyze/command.ts";
import { sysrqDump } from "../dump/_peers.ts";

const tmp = mkdtempSync(join(tmpdir(), "kdump-raw-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

test("saveRawDump() writes what makedumpfile -R writes, names it vmcore, and marks the partition consumed", async () => {
  const { vmcore } = await sysrqDump("6.1");
  const r = await collect({ from: vmcore, out: join(tmp, "flat"), format: "flat", compress: "zlib", progress: () => {} });
  const part = join(tmp, "vdb");
  copyFileSync(r.path, part);
  appendFileSync(part, Buffer.alloc(1 << 20, 0x5a)); // the partition's old bytes after the stream
  expect(rawDumpPending(part)).toBe(true);
  const saved = saveRawDump(part, join(tmp, "crash"), "lab", new Date(Date.UTC(2026, 11, 1, 13, 0, 0)))!;
  expect(saved.path).toBe(join(tmp, "crash", "lab-2026-12-01-13:00:00", "vmcore"));
  await $`makedumpfile -R ${join(tmp, "oracle")} < ${r.path}`.quiet();
  expect(Buffer.compare(readFileSync(saved.path), readFileSync(join(tmp, "oracle")))).toBe(0);
  expect(analyze(saved.path, "log")).toBe(analyze(vmcore, "log"));
  expect(rawDumpPending(part)).toBe(false);
  expect(saveRawDump(part, join(tmp, "crash"), "lab")).toBeNull();
}, 300_000);

test("saveRawDump() of a stream cut short keeps vmcore-incomplete and leaves the partition pending", async () => {
  const part = join(tmp, "cut");
  copyFileSync(readdirSync(join(tmp, "flat")).map((d) => join(tmp, "flat", d, "vmcore.flat"))[0]!, part);
  truncateSync(part, 2 << 20);
  expect(() => saveRawDump(part, join(tmp, "cut-crash"), "lab", new Date(0))).toThrow(/truncated|end marker/);
  expect(readdirSync(join(tmp, "cut-crash", "lab-1970-01-01-00:00:00"))).toEqual(["vmcore-incomplete"]);
  expect(rawDumpPending(part)).toBe(true);
});
