// The entry point the capture kernel runs: the collect verb alone. kdump.ts also loads the analysis stack, the
// service and the whole library, which under TCG took 3.1 s to start against 1.8 s for the collector's modules
// (qemu-x86_64 -cpu max, `--version` against loading collect.ts; 1.2 s of a lab capture's wall time). Usage as
// kdump.ts's: `bun lib/collect/main.ts collect --from /proc/vmcore --out /var/crash`.
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { emit, run } from "../verb_kit.ts";
import { COLLECT_DESCRIBE, collectOptions, collectVerb } from "./collect_verb.ts";

if (import.meta.main)
  await yargs(hideBin(process.argv))
    .scriptName("kdump")
    .command("collect", COLLECT_DESCRIBE, (y) => collectOptions(y), (a) => collectVerb({ run, emit }, a))
    .demandCommand(1)
    .strict()
    .fail((msg, err) => {
      if (err) throw err;
      console.error(`kdump: ${msg}`);
      process.exit(2);
    })
    .help()
    .parseAsync();
