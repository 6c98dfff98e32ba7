// How every verb ends, shared by the CLI (kdump.ts) and the service's own entry (lib/service/main.ts): one `kdump: …`
// line for any error, exit 0 done, 1 failed or "not ready", 2 bad usage; data printed as JSON or as text.
import type { Argv } from "yargs";
import { errorLine, UsageError } from "./errors.ts";

/** The --json option, as yargs takes it (a verb with an option table lists it there). */
export const JSON_OPTION = { type: "boolean", default: false, describe: "print data as JSON" } as const;

/** Adds the --json option every verb whose output is data takes. */
export const json = <T>(y: Argv<T>) => y.option("json", JSON_OPTION);

/** yargs' usage message as one `kdump: …` line (an invalid choice comes as "Invalid values:" and an indented list). */
export const usageLine = (msg: string): string => `kdump: ${msg.trim().replace(/:?\s*\n\s*/g, ": ")}`;

/** Exit status of a verb: 0 done, 1 failed or "not ready", 2 bad usage. */
export type Exit = number | void;

/** Runs a verb body, turning any error into one `kdump: …` line and a non-zero exit. */
export async function run(body: () => Promise<Exit> | Exit): Promise<void> {
  try {
    const code = await body();
    process.exitCode = typeof code === "number" ? code : 0;
  } catch (e) {
    if (process.env.KDUMP_DEBUG && e instanceof Error) console.error(e.stack);
    console.error(`kdump: ${errorLine(e)}`);
    process.exitCode = e instanceof UsageError ? 2 : 1;
  }
}

/** Prints data as JSON (bigints as hex strings) or as text. */
export function emit(json: boolean, data: unknown, text: () => string): void {
  console.log(json ? JSON.stringify(data, (_k, v) => (typeof v === "bigint" ? "0x" + v.toString(16) : v), 2) : text());
}
