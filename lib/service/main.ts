// The entry point the unit, the kernel hooks and the udev rule run: the service verbs alone. kdump.ts also loads the
// analysis stack (yargs plus ~5x the modules), which costs the boot path seconds under load for nothing: on the
// host `bun kdump.ts --help` took 2.2-2.7 s of wall time against 0.5 s for the service's modules.
// Usage as kdump.ts's: `bun lib/service/main.ts start --by-service`.
import yargs, { type CommandModule } from "yargs";
import { hideBin } from "yargs/helpers";
import { errorLine } from "../errors.ts";
import { emit, run, usageLine } from "../verb_kit.ts";
import { serviceCommands, type CliKit } from "./commands.ts";

/** kdump.ts's run() and emit(): the same one-line errors and exit codes (0 done, 1 failed, 2 bad usage). */
const kit: CliKit = { run, emit };

if (import.meta.main)
  await yargs(hideBin(process.argv))
    .scriptName("kdump")
    .command(serviceCommands(kit) as unknown as CommandModule[])
    .demandCommand(1)
    .strict()
    .fail((msg, err) => {
      console.error(msg ? usageLine(msg) : `kdump: ${errorLine(err)}`);
      process.exit(2);
    })
    .parseAsync();
