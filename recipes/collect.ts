// Runbook: save a crash dump by hand, filtered and compressed, e.g. from /proc/vmcore in a capture kernel's
// shell, or to re-filter an ELF dump offline. Run: kdump recipes/collect.ts [--from /proc/vmcore] [--out DIR]
// Without --out, --level or --compress it uses the box's config (/etc/kdump.conf or /etc/default/kdump-tools).
import { existsSync } from "node:fs";
import { analyze, collect, formatCollect, formatTarget, loadConfig } from "kdump";

// 1. What to read and where to write (a directory, LABEL=…/UUID=… of a disk, /dev/… raw, ssh://host/dir, or -).
const { settings } = loadConfig();
const from: string = argv.from ?? "/proc/vmcore";
const out: string = argv.out ?? formatTarget(settings.target);

// 2. Save it: the configured dump level and codec (default -d 31, zstd); the kernel log is saved beside it.
const format: string | undefined = argv.format ?? (settings.format === "kdump" ? undefined : settings.format);
const r = await collect({ from, out, level: argv.level ?? settings.dumpLevel, compress: argv.compress ?? settings.codec, format, progress: () => {} });
// (with --out - the dump itself is stdout: messages go to stderr)
const say = out === "-" ? (s: string) => console.error(s) : echo;
say(formatCollect(r));

// 3. Check the copy reads back: the first lines of its report (system, panic, log tail). Only a file here can be
//    read back: not stdout, not a copy on an ssh host.
if (existsSync(r.path)) say(String(analyze(r.path)).split("\n").slice(0, 12).join("\n"));
else say(`not read back: ${r.path} is not a file on this machine`);
