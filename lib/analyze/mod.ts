// `mod`: the loaded modules as crash lists them (struct module address, name, base, size), read from the
// kernel's `modules` list through BTF: core_layout before 6.4, mem[] since.
import type { Module } from "../kernel/modules.ts";
import type { AnalyzeCommand } from "./command.ts";

/** One module as `mod --json` prints it. Addresses are 0x-prefixed hex strings. */
export interface ModRow {
  /** Address of its struct module. */
  module: string;
  /** Module name. */
  name: string;
  /** Start of its core memory. */
  base: string;
  /** Core size in bytes. */
  size: number;
  /** module.state: "live", "coming", "going" or "unformed". */
  state: string;
  /** Number of symbols it keeps. */
  symbols: number;
}

const STATES = ["live", "coming", "going", "unformed"];
const hex = (v: bigint) => "0x" + v.toString(16).padStart(16, "0");

/** The rows of `mods`. */
export function modRows(mods: Module[]): ModRow[] {
  return mods.map((m) => ({ module: hex(m.module), name: m.name, base: hex(m.base), size: m.size, state: STATES[m.state] ?? String(m.state), symbols: m.symbols.length }));
}

/** crash's mod text (without its OBJECT FILE column). */
export function formatMod(rows: ModRow[]): string {
  const w = Math.max(22, ...rows.map((r) => r.name.length));
  const lines = [`     MODULE       ${"NAME".padEnd(w)}       BASE         SIZE`];
  for (const r of rows) lines.push(`${r.module.slice(2)}  ${r.name.padEnd(w)} ${r.base.slice(2)} ${String(r.size).padStart(6)}${r.state === "live" ? "" : `  (${r.state})`}`);
  return lines.join("\n") + "\n";
}

/** `kdump analyze VMCORE mod`. */
export const modCommand: AnalyzeCommand = {
  describe: "the loaded modules: struct module, NAME, BASE, SIZE (like crash's mod)",
  run: (ctx) => {
    const rows = modRows(ctx.modules);
    return { data: { modules: rows }, text: formatMod(rows) };
  },
};
