// The `collect` verb's options and body, shared by kdump.ts and the capture kernel's own entry (lib/collect/main.ts)
// so the two accept exactly the same command line.
import type { Argv } from "yargs";
import { COMPRESS_NAMES } from "../dump/codecs/compress.ts";
import { COLLECT_FAILURE_ACTIONS } from "./failure.ts";
import { FORMATS, formatCollect } from "./collect.ts";
import type { CliKit } from "../service/commands.ts";
import { json } from "../verb_kit.ts";

/** The collect verb's description, for --help. */
export const COLLECT_DESCRIBE = "save a dump filtered (-d level) and compressed: kdump-compressed (crash, makedumpfile read it), ELF, or flattened";

/** Adds the collect verb's options (and --json) to `y`. */
export function collectOptions(y: Argv) {
  return json(y)
    .option("from", { type: "string", default: "/proc/vmcore", describe: "the dump to read: /proc/vmcore in the capture kernel, or a dump file" })
    .option("out", { type: "string", requiresArg: true, default: "/var/crash", describe: "DIR, UUID=…[:/dir], LABEL=…[:/dir], /dev/… (raw), ssh://[user@]host[:port]/dir, or - (stdout)" })
    .option("level", { type: "number", default: 31, describe: "dump level: 1 zero, 2 cache, 4 private cache, 8 user, 16 free pages (makedumpfile -d)" })
    .option("compress", {
      type: "string",
      choices: COMPRESS_NAMES,
      describe: "page compression (default zstd; crash 8.0.2 and makedumpfile 1.7.8 read it, Debian 12's makedumpfile 1.7.2 cannot: use zlib or lzo for it). Not with --format elf",
    })
    .option("format", { type: "string", choices: [...FORMATS], describe: "kdump (default), elf, or flat (default for -, raw devices and ssh)" })
    .option("failure-action", { type: "string", choices: [...COLLECT_FAILURE_ACTIONS], default: "none", describe: "what to do when saving fails" })
    .option("threads", { type: "number", describe: "compression threads (default: one per CPU; 0 on one CPU)" })
    .option("host", { type: "string", describe: "host name for the folder (default: the crashed kernel's)" })
    .option("dmesg", { type: "boolean", default: true, describe: "save the kernel log beside the dump (--no-dmesg: do not)" })
    .option("keep", { type: "number", default: 0, describe: "dumps to keep in the target directory, this one included; older complete ones are deleted (0: all)" })
    .option("yes", { type: "boolean", default: false, describe: "allow a reboot/halt/poweroff failure action outside a capture kernel" });
}

/** The parsed options. */
export type CollectArgs = Awaited<ReturnType<typeof collectOptions>["argv"]>;

/** Runs the verb: the summary on stdout (on stderr when the dump itself goes to stdout). */
export function collectVerb(kit: CliKit, a: CollectArgs): Promise<void> {
  return kit.run(async () => {
    const { collect } = await import("./collect.ts");
    const r = await collect({ ...a, failureAction: a.failureAction });
    if (a.out === "-") console.error(a.json ? JSON.stringify(r) : formatCollect(r));
    else kit.emit(a.json, r, () => formatCollect(r));
  });
}
