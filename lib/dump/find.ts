// Finds saved crash dumps under a dump directory, whatever saved them: kdump-utils (<path>/<ip>-<date>/vmcore),
// Debian's kdump-tools (/var/crash/<stamp>/dump.<stamp>) or our collect; files are recognised by signature.
import { closeSync, openSync, readdirSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import { MissingDataError } from "../errors.ts";
import { dumpFormats } from "./open.ts";

/** A dump file found on disk. */
export interface FoundDump {
  /** Its path. */
  path: string;
  /** Format name from the signature ("elf", "kdump", "flat"). */
  format: string;
  /** Last modification, ms since the epoch. */
  mtimeMs: number;
  /** Size in bytes. */
  size: number;
}

/**
 * Every dump under `dir` (to `depth` levels of folders), newest first. Unfinished copies (names containing
 * "incomplete") and files without a dump signature are skipped.
 * @example findDumps("/var/crash")[0]?.path
 */
export function findDumps(dir: string, depth = 3): FoundDump[] {
  const out: FoundDump[] = [];
  const walk = (d: string, level: number) => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const name of names) {
      const p = join(d, name);
      let st;
      try {
        st = statSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        if (level < depth) walk(p, level + 1);
      } else if (st.isFile() && st.size > 0 && !name.includes("incomplete")) {
        const format = sniff(p);
        if (format) out.push({ path: p, format, mtimeMs: st.mtimeMs, size: st.size });
      }
    }
  };
  walk(dir, 1);
  return out.sort((a, b) => b.mtimeMs - a.mtimeMs);
}

/** The newest dump under `dir`; MissingDataError when there is none. */
export function newestDump(dir: string): FoundDump {
  statSync(dir); // a missing or unreadable folder is its own error
  const found = findDumps(dir)[0];
  if (!found) throw new MissingDataError(`no crash dump under ${dir}`, { hint: "give the folder kdump saves dumps to with --path" });
  return found;
}

function sniff(path: string): string | null {
  let fd = -1;
  try {
    fd = openSync(path, "r");
    const head = new Uint8Array(16);
    readSync(fd, head, 0, 16, 0);
    return dumpFormats.find((f) => f.sniff(head))?.name ?? null;
  } catch {
    return null;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}
