// What the last crashes left: dump folders under the target (ours `<host>-<stamp>/vmcore`, Debian's
// `<stamp>/dump.<stamp>`), the newest complete one, and the outcome of the last `kdump test` read from them and
// from the capture log the capture init saved beside the dump (kexec-dmesg.log).
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { CAPTURE_LOG } from "../initramfs/init.ts";
import type { ServiceHost } from "./host.ts";
import { bootId, type TestRecord } from "./state.ts";

/** A folder a capture wrote. */
export interface DumpFolder {
  /** The folder (path on the box). */
  path: string;
  /** Its modification time (epoch seconds). */
  at: number;
  /** The complete dump file, or null (only vmcore-incomplete, or nothing). */
  dump: string | null;
  /** The capture kernel's log saved beside it, or null. */
  log: string | null;
}

/** The capture folders under `target`, newest first. */
export function dumpFolders(h: ServiceHost, target: string): DumpFolder[] {
  const dir = join(h.root || "/", target);
  if (!existsSync(dir)) return [];
  const out: DumpFolder[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st?.isDirectory()) continue;
    const files = readdirSync(p);
    const dump = files.find((f) => f === "vmcore" || f.startsWith("dump.")) ?? null;
    const log = files.includes("kexec-dmesg.log") ? "kexec-dmesg.log" : null;
    if (!dump && !log && !files.includes("vmcore-incomplete")) continue;
    out.push({ path: `${target}/${name}`, at: Math.floor(st.mtimeMs / 1000), dump: dump && `${target}/${name}/${dump}`, log: log && `${target}/${name}/${log}` });
  }
  return out.sort((a, b) => b.at - a.at || b.path.localeCompare(a.path));
}

/** The newest complete dump under `target`, or null. */
export function lastCrash(h: ServiceHost, target: string): DumpFolder | null {
  return dumpFolders(h, target).find((f) => f.dump) ?? null;
}

/** What became of a `kdump test`. */
export interface TestOutcome {
  /** The test id. */
  id: string;
  /** When it crashed the box (epoch seconds). */
  at: number;
  /** "pending": still the boot that ran the test; "success": a dump was saved; "failure": none was. */
  outcome: "pending" | "success" | "failure";
  /** The dump saved (success). */
  dump?: string;
  /** Why it failed, from the capture log when there is one. */
  reason?: string;
}

/** The last capture-init line of a saved capture log (what it did last), or null. */
function lastCaptureLine(h: ServiceHost, log: string): string | null {
  const lines = readFileSync(join(h.root || "/", log), "utf8").split("\n").filter((l) => l.includes(CAPTURE_LOG));
  const last = lines.at(-1);
  return last ? last.slice(last.indexOf(CAPTURE_LOG) + CAPTURE_LOG.length).trim() : null;
}

/**
 * The outcome of test `t`: the first capture folder written after it crashed the box.
 * @example testOutcome(h, readState(h).lastTest!).outcome  // "success"
 */
export function testOutcome(h: ServiceHost, t: TestRecord): TestOutcome {
  const base = { id: t.id, at: t.at };
  if (bootId(h) === t.bootId) return { ...base, outcome: "pending", reason: "the box has not crashed since the test was recorded (did `kdump test` stop before the crash?)" };
  const after = dumpFolders(h, t.target).filter((f) => f.at >= t.at - 2).reverse();
  const saved = after.find((f) => f.dump);
  if (saved) return { ...base, outcome: "success", dump: saved.dump! };
  const logged = after.find((f) => f.log);
  if (logged) return { ...base, outcome: "failure", reason: `the capture saved no dump: ${lastCaptureLine(h, logged.log!) ?? "no capture-init line"} (${logged.log})` };
  if (after.length) return { ...base, outcome: "failure", reason: `the capture left ${after[0]!.path}/vmcore-incomplete: it stopped while writing (target full, or out of memory)` };
  return { ...base, outcome: "failure", reason: `no capture folder under ${t.target} after the test crash: the capture kernel did not save one or did not boot (check \`kdump status\` and the reservation with \`kdump estimate\`)` };
}
