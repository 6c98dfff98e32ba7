// The `collect` verb's options and body, shared by kdump.ts and the capture kernel's own entry (lib/collect/main.ts)
// so the two accept exactly the same command line.
import type { Argv, Options } from "yargs";
import { COMPRESS_NAMES } from "../dump/codecs/compress.ts";
import { COLLECT_FAILURE_ACTIONS } from "./failure.ts";
import { FORMATS, formatCollect } from "./collect.ts";
import type { CliKit } from "../service/commands.ts";
import { JSON_OPTION } from "../verb_kit.ts";

/** The collect verb's description, for --help. */
export const COLLECT_DESCRIBE = "save a dump filtered (-d level) and compressed: kdump-compressed (crash, makedumpfile read it), ELF, or flattened";

/** The collect verb's options, as yargs takes them; fastCollectArgs reads the same table. */
const OPTIONS = {
  from: { type: "string", default: "/proc/vmcore", describe: "the dump to read: /proc/vmcore in the capture kernel, or a dump file" },
  out: { type: "string", requiresArg: true, default: "/var/crash", describe: "DIR, UUID=…[:/dir], LABEL=…[:/dir], /dev/… (raw), ssh://[user@]host[:port]/dir, or - (stdout)" },
  level: { type: "number", default: 31, describe: "dump level: 1 zero, 2 cache, 4 private cache, 8 user, 16 free pages (makedumpfile -d)" },
  compress: {
    type: "string",
    choices: COMPRESS_NAMES,
    describe: "page compression (default zstd; crash 8.0.2 and makedumpfile 1.7.8 read it, Debian 12's makedumpfile 1.7.2 cannot: use zlib or lzo for it). Not with --format elf",
  },
  format: { type: "string", choices: [...FORMATS], describe: "kdump (default), elf, or flat (default for -, raw devices and ssh)" },
  "failure-action": { type: "string", choices: [...COLLECT_FAILURE_ACTIONS], default: "none", describe: "what to do when saving fails" },
  threads: { type: "number", describe: "compression threads (default: one per CPU; 0 on one CPU)" },
  host: { type: "string", describe: "host name for the folder (default: the crashed kernel's)" },
  dmesg: { type: "boolean", default: true, describe: "save the kernel log beside the dump (--no-dmesg: do not)" },
  keep: { type: "number", default: 0, describe: "dumps to keep in the target directory, this one included; older complete ones are deleted (0: all)" },
  yes: { type: "boolean", default: false, describe: "allow a reboot/halt/poweroff failure action outside a capture kernel" },
  json: JSON_OPTION,
} as const satisfies Record<string, Options>;

/** Adds the collect verb's options (and --json) to `y`. */
export function collectOptions(y: Argv) {
  return y.options(OPTIONS);
}

/**
 * `collect` with long options only, each once, values that are plainly valid (a choice listed, a whole number):
 * the capture's command line, parsed without loading yargs (under TCG, loading yargs took 0.9 s of the collector's
 * start, qemu-x86_64 -cpu max). Anything else (-h, --help, a short option, --opt=value on a boolean, a bad value, a
 * positional) returns undefined and goes through yargs, which gives the same object or the usual error.
 * @example fastCollectArgs(["collect", "--out", "/var/crash", "--compress", "lzo"])
 */
export function fastCollectArgs(args: string[]): CollectArgs | undefined {
  if (args[0] !== "collect") return undefined;
  const got = new Map<string, string | number | boolean>();
  for (let i = 1; i < args.length; i++) {
    const m = /^--(no-)?([a-z][a-z-]*)(?:=(.*))?$/s.exec(args[i]!);
    if (!m) return undefined;
    const [, no, name, inline] = m;
    const spec = Object.hasOwn(OPTIONS, name!) ? (OPTIONS as Record<string, Options>)[name!]! : undefined;
    if (!spec || got.has(name!)) return undefined;
    if (spec.type === "boolean") {
      if (inline !== undefined) return undefined;
      got.set(name!, !no);
      continue;
    }
    if (no) return undefined;
    const value = inline ?? args[++i];
    if (value === undefined || value === "" || (value.startsWith("-") && value !== "-")) return undefined;
    if (spec.type === "number") {
      if (!/^\d+$/.test(value)) return undefined;
      got.set(name!, Number(value));
    } else {
      if (spec.choices && !spec.choices.includes(value)) return undefined;
      got.set(name!, value);
    }
  }
  const a: Record<string, unknown> = { _: ["collect"] };
  for (const [name, spec] of Object.entries(OPTIONS) as [string, Options][]) {
    const v = got.has(name) ? got.get(name) : spec.default;
    if (v === undefined) continue;
    a[name] = v;
    const camel = name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (camel !== name) a[camel] = v;
  }
  a.$0 = "kdump";
  return a as CollectArgs;
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
