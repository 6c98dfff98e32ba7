// The entry point the capture kernel runs: the collect verb alone. kdump.ts also loads the analysis stack, the
// service and the whole library, which under TCG took 3.1 s to start against 1.8 s for the collector's modules
// (qemu-x86_64 -cpu max, `--version` against loading collect.ts; 1.2 s of a lab capture's wall time). Usage as
// kdump.ts's: `bun lib/collect/main.ts collect --from /proc/vmcore --out /var/crash`. A plain command line (the
// capture init's) is parsed without yargs (fastCollectArgs); anything else goes through it.
import { emit, run, usageLine } from "../verb_kit.ts";
import { COLLECT_DESCRIBE, collectOptions, collectVerb, fastCollectArgs } from "./collect_verb.ts";

const fast = import.meta.main ? fastCollectArgs(process.argv.slice(2)) : undefined;
if (fast) await collectVerb({ run, emit }, fast);
else if (import.meta.main) {
  const { default: yargs } = await import("yargs");
  const { hideBin } = await import("yargs/helpers");
  await yargs(hideBin(process.argv))
    .scriptName("kdump")
    .command("collect", COLLECT_DESCRIBE, (y) => collectOptions(y), (a) => collectVerb({ run, emit }, a))
    .demandCommand(1)
    .strict()
    .fail((msg, err) => {
      if (err) throw err;
      console.error(usageLine(msg));
      process.exit(2);
    })
    .help()
    .parseAsync();
}
