import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pruneDumps } from "../../lib/collect/prune.ts";

let root: string;
beforeEach(() => (root = mkdtempSync(join(tmpdir(), "prune-"))));
afterEach(() => rmSync(root, { recursive: true, force: true }));
/** A dump folder holding `files`, its dump file dated `age` minutes ago. */
const dump = (name: string, files: string[], age: number) => {
  mkdirSync(join(root, name));
  for (const f of files) {
    writeFileSync(join(root, name, f), "x");
    const t = new Date(Date.now() - age * 60_000);
    utimesSync(join(root, name, f), t, t);
  }
  return join(root, name);
};

test("pruneDumps() keeps the newest complete dumps, the one just written counted, and deletes the oldest", () => {
  dump("lab-1", ["vmcore", "vmcore-dmesg.txt"], 30);
  dump("lab-2", ["vmcore.flat"], 20);
  dump("lab-3", ["vmcore"], 10);
  const now = dump("lab-4", ["vmcore"], 0);
  expect(pruneDumps(root, 2, now)).toEqual([join(root, "lab-2"), join(root, "lab-1")]);
  expect(readdirSync(root).sort()).toEqual(["lab-3", "lab-4"]);
});

test("pruneDumps() never deletes the dump just written, one still -incomplete, or a folder without a dump", () => {
  const now = dump("lab-old-but-just-written", ["vmcore"], 90); // an odd clock: still kept
  dump("lab-partial", ["vmcore-incomplete", "vmcore-incomplete.reason"], 80);
  dump("lab-x-incomplete", ["vmcore"], 70);
  dump("notes", ["README"], 60);
  dump("lab-a", ["vmcore"], 50);
  dump("lab-b", ["vmcore"], 5);
  expect(pruneDumps(root, 1, now)).toEqual([join(root, "lab-b"), join(root, "lab-a")]);
  expect(readdirSync(root).sort()).toEqual(["lab-old-but-just-written", "lab-partial", "lab-x-incomplete", "notes"]);
});

test("pruneDumps() with keep 0 keeps everything", () => {
  dump("lab-1", ["vmcore"], 10);
  expect(pruneDumps(root, 0, join(root, "new"))).toEqual([]);
  expect(readdirSync(root)).toEqual(["lab-1"]);
});
