#!/usr/bin/env bun
// kdump: the single-file entry. Run as a CLI (`kdump status`, `kdump analyze VMCORE`, `kdump recipes/load.ts`)
// or import it as the library (`import { readStatus } from "kdump"`). Importing runs nothing.
import yargs, { type Argv } from "yargs";
import { hideBin } from "yargs/helpers";
import { resolve } from "node:path";
import { existsSync } from "node:fs";
import { errorLine, UsageError } from "./lib/errors.ts";
import { formatStatus, readStatus } from "./lib/boot/status.ts";

export * from "./lib/mod.ts";

/** The toolkit's version, from package.json. */
export const VERSION: string = (await import("./package.json", { with: { type: "json" } })).default.version;

/** Exit status of a verb: 0 done, 1 failed or "not ready", 2 bad usage. */
type Exit = number | void;

/** Runs a verb body, turning any error into one `kdump: …` line and a non-zero exit. */
async function run(body: () => Promise<Exit> | Exit): Promise<void> {
  try {
    const code = await body();
    process.exitCode = typeof code === "number" ? code : 0;
  } catch (e) {
    if (process.env.KDUMP_DEBUG && e instanceof Error) console.error(e.stack);
    console.error(`kdump: ${errorLine(e)}`);
    process.exitCode = e instanceof UsageError ? 2 : 1;
  }
}

/** Prints data as JSON or as text. */
export function emit(json: boolean, data: unknown, text: () => string): void {
  console.log(json ? JSON.stringify(data, (_k, v) => (typeof v === "bigint" ? "0x" + v.toString(16) : v), 2) : text());
}

/** Runs a recipe file the way zx runs a script: $, argv, question, spinner in scope, `kdump` importable. */
export async function runRecipe(file: string, args: string[]): Promise<void> {
  const path = resolve(file);
  if (!existsSync(path)) throw new UsageError(`recipe ${file} not found`, { hint: "give the path of a .ts recipe, e.g. recipes/load.ts" });
  await import("zx/globals");
  const zx = await import("zx");
  zx.updateArgv(args);
  zx.$.verbose = true; // a runbook prints each command before it runs
  await import(path);
}

const json = (y: Argv) => y.option("json", { type: "boolean", default: false, describe: "print data as JSON" });

/** The CLI. Verbs live in lib/; each is a thin wrapper here. */
export function cli(argv: string[]): Argv {
  return yargs(argv)
    .scriptName("kdump")
    .usage("$0 <verb> [options]\n$0 RECIPE.ts [args]   run a recipe (zx script) with the library in scope")
    .version(VERSION)
    .strict()
    .command(
      "status",
      "show the crashkernel reservation, the loaded capture kernel and a verdict",
      (y) => json(y),
      (a) =>
        run(() => {
          const s = readStatus();
          emit(a.json, s, () => formatStatus(s));
          return s.ready ? 0 : 1;
        }),
    )
    .demandCommand(1, "name a verb or a recipe file; see --help")
    .recommendCommands()
    .fail((msg, err, y) => {
      if (err) throw err;
      console.error(`kdump: ${msg}`);
      console.error("(try: kdump --help)");
      process.exit(2);
    })
    .help()
    .alias("h", "help")
    .wrap(Math.min(110, process.stdout.columns || 110));
}

if (import.meta.main) {
  const args = hideBin(process.argv);
  if (args[0] && /\.(ts|js|mjs|mts)$/.test(args[0])) {
    await run(() => runRecipe(args[0]!, args.slice(1)));
  } else {
    await cli(args).parseAsync();
  }
}
