// Keeping N dumps (kdump-tools' KDUMP_NUM_DUMPS): after a save, the oldest complete dump folders under the target
// are deleted until N remain, counting the one just written. Never the one just written, never a folder holding a
// file still named -incomplete (a dump being written, or kept to explain a failure), never a folder with no dump.
import { readdirSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

/** The dump file names a complete dump folder holds (ours and kdump-utils': vmcore; the flattened stream). */
const DUMP_FILES = ["vmcore", "vmcore.flat"];

/**
 * Deletes the oldest complete dump folders in `root` so that `keep` remain, `justWritten` included; returns the
 * folders deleted. keep 0 keeps all.
 * @example pruneDumps("/var/crash", 2, "/var/crash/lab-2026-12-01-09:30:00")  // ["/var/crash/lab-2026-11-30-…"]
 */
export function pruneDumps(root: string, keep: number, justWritten: string): string[] {
  if (keep <= 0) return [];
  const self = resolve(justWritten);
  const complete: { dir: string; when: number }[] = [];
  for (const e of readdirSync(root, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    const dir = join(root, e.name);
    if (resolve(dir) === self || e.name.endsWith("-incomplete")) continue;
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    if (names.some((n) => n.includes("-incomplete"))) continue;
    const dump = DUMP_FILES.find((f) => names.includes(f));
    if (!dump) continue;
    complete.push({ dir, when: statSync(join(dir, dump)).mtimeMs });
  }
  complete.sort((a, b) => b.when - a.when || b.dir.localeCompare(a.dir));
  const doomed = complete.slice(Math.max(0, keep - 1)).map((c) => c.dir);
  for (const d of doomed) rmSync(d, { recursive: true, force: true });
  return doomed;
}
