// Scratch folders under the system's temporary folder for tests. A test file that makes them (itself or through a
// helper) calls `afterAll(removeScratch)` at its top level: bun test shares one module between the files of a
// process and fires neither "exit" nor "beforeExit", so the helper cannot register the removal itself.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const made: string[] = [];

/**
 * A new empty folder named `prefix` plus a random suffix, removed by the next removeScratch().
 * @example const dir = scratchDir("kdump-log-")
 */
export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** Removes every folder scratchDir() made in this process so far. */
export function removeScratch(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}
