// `kdump config`: the effective settings, each with the file and line it came from, the conflicts and who won
// them, the notes, and what the capture does not support yet; as text or as JSON.
import { hooks } from "./load.ts";
import { formatOrigin, type Origin } from "./origin.ts";
import { DEFAULT_SETTINGS, type KdumpConfig, type SettingKey } from "./settings.ts";
import { unsupported } from "./supported.ts";
import { formatTarget, type Target } from "./target.ts";

/** One setting as `kdump config --json` prints it. */
export interface SettingReport {
  /** The effective value. */
  value: unknown;
  /** "file:line", or "default". */
  from: string;
  /** The file, or null for the default. */
  file: string | null;
  /** The line (0: the file's own default), or null for the default. */
  line: number | null;
}

/** `kdump config --json`. */
export interface ConfigReport {
  /** Files read, lowest precedence first. */
  sources: string[];
  settings: Record<SettingKey, SettingReport>;
  /** Settings set in more than one place: the winner and the overridden places. */
  conflicts: { key: SettingKey; winner: string; overridden: { from: string; value: unknown }[] }[];
  /** Accepted without (full) effect. */
  notes: { from: string; text: string }[];
  /** What the capture cannot do yet, with the directive's place. */
  unsupported: string[];
  /** The hooks in the order they run. */
  hooks: { pre: string[]; post: string[] };
}

/**
 * The report `kdump config` prints.
 * @example configReport(loadConfig()).settings.dumpLevel  // { value: 31, from: "default", file: null, line: null }
 */
export function configReport(c: KdumpConfig, onRootFs?: (path: string) => boolean): ConfigReport {
  const settings = {} as Record<SettingKey, SettingReport>;
  for (const key of Object.keys(DEFAULT_SETTINGS) as SettingKey[]) {
    const o: Origin | undefined = c.origins[key];
    settings[key] = { value: c.settings[key], from: formatOrigin(o ?? null), file: o?.file ?? null, line: o?.line ?? null };
  }
  return {
    sources: c.sources,
    settings,
    conflicts: c.conflicts.map((x) => ({ key: x.key, winner: formatOrigin(x.winner), overridden: x.overridden.map((o) => ({ from: formatOrigin(o), value: o.value })) })),
    notes: c.notes.map((n) => ({ from: formatOrigin(n), text: n.text })),
    unsupported: unsupported(c, onRootFs).map((e) => e.summary()),
    hooks: hooks(c),
  };
}

function show(v: unknown): string {
  if (v === null) return "(none)";
  if (Array.isArray(v)) return v.length ? v.join(" ") : "(none)";
  if (typeof v === "object" && v && "kind" in v) return formatTarget(v as Target);
  return String(v);
}

/**
 * The report as a person reads it: one line per setting, `name  value  file:line`.
 * @example formatConfigReport(configReport(loadConfig()))
 */
export function formatConfigReport(r: ConfigReport): string {
  const rows = Object.entries(r.settings).map(([k, s]) => [k, show(s.value), s.from] as const);
  const w0 = Math.max(...rows.map((x) => x[0].length));
  const w1 = Math.min(48, Math.max(...rows.map((x) => x[1].length)));
  const lines = [`files: ${r.sources.length ? r.sources.join(", ") : "none (every setting is the default)"}`, ""];
  for (const [k, v, from] of rows) lines.push(`${k.padEnd(w0)}  ${v.padEnd(w1)}  ${from}`);
  for (const x of r.conflicts) lines.push(`conflict: ${x.key} from ${x.winner} wins over ${x.overridden.map((o) => `${o.from} (${show(o.value)})`).join(", ")}`);
  for (const n of r.notes) lines.push(`note: ${n.from}: ${n.text}`);
  for (const u of r.unsupported) lines.push(`not supported yet: ${u}`);
  return lines.join("\n");
}
