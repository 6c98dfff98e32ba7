// A scratch dump folder for tests: files at relative paths with chosen ages (mtimes).
import { mkdirSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { scratchDir } from "../_scratch.ts";

/** A folder holding dumps in both layouts plus decoys; returns it. */
export function crashFolder(files: Record<string, { bytes: Uint8Array | string; ageSeconds: number }>): string {
  const root = scratchDir("kdump-find-");
  for (const [rel, f] of Object.entries(files)) {
    const p = join(root, rel);
    mkdirSync(join(p, ".."), { recursive: true });
    writeFileSync(p, f.bytes);
    const t = Date.now() / 1000 - f.ageSeconds;
    utimesSync(p, t, t);
  }
  return root;
}
