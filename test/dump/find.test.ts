// findDumps()/newestDump() find dumps by signature in the layouts kdump-utils and Debian's kdump-tools write,
// newest first, and skip unfinished copies and other files.
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { MissingDataError } from "../../lib/errors.ts";
import { findDumps, newestDump } from "../../lib/dump/find.ts";
import { crashFolder } from "./_crashfolder.ts";
import { removeScratch, scratchDir } from "../_scratch.ts";

afterAll(removeScratch);

const elf = new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
const kdumpSig = "KDUMP   \x06\0\0\0";

describe("findDumps()", () => {
  const root = crashFolder({
    "10.0.0.1-2026-11-20-08:00:00/vmcore": { bytes: elf, ageSeconds: 3000 },
    "10.0.0.1-2026-11-20-08:00:00/vmcore-dmesg.txt": { bytes: "[    0.000000] Linux version\n", ageSeconds: 10 },
    "202611230900/dump.202611230900": { bytes: kdumpSig, ageSeconds: 100 },
    "202611230900/dmesg.202611230900": { bytes: "text", ageSeconds: 5 },
    "10.0.0.1-2026-11-23-09:30:00/vmcore-incomplete": { bytes: elf, ageSeconds: 1 },
    "empty/vmcore": { bytes: "", ageSeconds: 0 },
  });

  test("lists dumps of both layouts newest first, by signature, without unfinished or empty files", () => {
    expect(findDumps(root).map((d) => [d.path.slice(root.length + 1), d.format])).toEqual([
      ["202611230900/dump.202611230900", "kdump"],
      ["10.0.0.1-2026-11-20-08:00:00/vmcore", "elf"],
    ]);
  });

  test("newestDump() is the first; an empty folder is a MissingDataError with a hint", () => {
    expect(newestDump(root).path).toBe(join(root, "202611230900/dump.202611230900"));
    const empty = scratchDir("kdump-find-");
    expect(() => newestDump(empty)).toThrow(MissingDataError);
    expect(() => newestDump(empty)).toThrow(`no crash dump under ${empty}`);
  });
});
