// Dumps that never became a `vmcore`: folders under a dump root holding `vmcore-incomplete` (or
// `vmcore.flat-incomplete`) and its `.reason`. The collector writes "collection in progress" with its pid and boot
// id when it starts and the failure when it fails; a collector killed (or a capture kernel reset) cannot, so a
// reason still "in progress" whose collector is gone means the collection was interrupted.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

/** A dump folder whose dump did not complete. */
export interface UnfinishedDump {
  /** The partial file. */
  path: string;
  /** "failed" (the collector gave a reason), "interrupted" (it stopped without one), or "in progress". */
  state: "failed" | "interrupted" | "in progress";
  /** The reason file's text (first line), or what we concluded. */
  reason: string;
  /** Bytes of the partial file. */
  bytes: number;
  /** When it was last written (ISO). */
  modified: string;
}

const IN_PROGRESS = /^collection in progress since (\S+)(?: \(pid (\d+), boot ([0-9a-f-]+)\))?/;

/** The reason file's first text while collecting: when, and which process on which boot. */
export function inProgressNote(now: Date, pid: number, bootId: string): string {
  return `collection in progress since ${now.toISOString()} (pid ${pid}, boot ${bootId})\n`;
}

/** This boot's id (/proc/sys/kernel/random/boot_id), or "" when unknown. */
export function currentBootId(root = ""): string {
  try {
    return readFileSync(`${root}/proc/sys/kernel/random/boot_id`, "utf8").trim();
  } catch {
    return "";
  }
}

/** How to tell whether a collector still runs; tests substitute both. */
export interface UnfinishedSys {
  bootId: string;
  alive(pid: number): boolean;
}

const realSys = (): UnfinishedSys => ({
  bootId: currentBootId(),
  alive(pid) {
    try {
      process.kill(pid, 0);
      return true;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === "EPERM";
    }
  },
});

/**
 * The unfinished dumps under `root` (one level of dump folders, as `kdump collect --out DIR` makes them), oldest
 * first. A missing or unreadable root gives none.
 * @example unfinishedDumps("/var/crash").map((d) => `${d.path}: ${d.state}: ${d.reason}`)
 */
export function unfinishedDumps(root: string, sys: UnfinishedSys = realSys()): UnfinishedDump[] {
  if (!existsSync(root)) return [];
  const out: UnfinishedDump[] = [];
  let dirs: string[];
  try {
    dirs = readdirSync(root);
  } catch {
    return [];
  }
  for (const d of dirs) {
    let files: string[];
    try {
      files = readdirSync(join(root, d));
    } catch {
      continue; // not a folder
    }
    for (const f of files.filter((x) => x.endsWith("-incomplete"))) {
      if (f.startsWith("vmcore-dmesg")) continue;
      const path = join(root, d, f);
      const st = statSync(path);
      let text = "";
      try {
        text = readFileSync(`${path}.reason`, "utf8").trim().split("\n")[0]!.trim();
      } catch {
        // no reason file: a collector from before reasons existed, or one killed before writing it
      }
      out.push({ path, bytes: st.size, modified: st.mtime.toISOString(), ...judge(text, sys) });
    }
  }
  return out.sort((a, b) => a.modified.localeCompare(b.modified));
}

/** The state a reason text means. */
function judge(text: string, sys: UnfinishedSys): Pick<UnfinishedDump, "state" | "reason"> {
  const m = IN_PROGRESS.exec(text);
  if (!text) return { state: "interrupted", reason: "the collector stopped before it could say why (no reason file)" };
  if (!m) return { state: "failed", reason: text };
  const [, since, pid, boot] = m;
  const running = pid !== undefined && boot === sys.bootId && sys.alive(Number(pid));
  if (running) return { state: "in progress", reason: `collecting since ${since} (pid ${pid})` };
  return {
    state: "interrupted",
    reason: `the collection started ${since} never finished: the collector was killed or the capture kernel reset before it completed`,
  };
}

/** One line per unfinished dump, for `kdump status`. */
export function formatUnfinished(dumps: UnfinishedDump[]): string[] {
  return dumps.map((d) => `unfinished dump:    ${d.path} (${d.bytes} bytes, ${d.modified}): ${d.state}: ${d.reason}`);
}
