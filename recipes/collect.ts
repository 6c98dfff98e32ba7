// Runbook: save a crash dump by hand, filtered and compressed, e.g. from /proc/vmcore in a capture kernel's
// shell, or to re-filter an ELF dump offline. Run: kdump recipes/collect.ts [--from /proc/vmcore] [--out /var/crash]
import { analyze, collect, formatCollect } from "kdump";

// 1. What to read and where to write (a directory, LABEL=…/UUID=… of a disk, /dev/… raw, ssh://host/dir, or -).
const from: string = argv.from ?? "/proc/vmcore";
const out: string = argv.out ?? "/var/crash";

// 2. Save it: free, cache and user pages dropped (-d 31), pages in zstd; the kernel log is saved beside it.
const r = await collect({ from, out, level: argv.level ?? 31, compress: argv.compress ?? "zstd" });
echo(formatCollect(r));

// 3. Check the copy reads back: the first lines of its report (system, panic, log tail).
if (!r.path.includes(":") && r.path !== "stdout") echo(analyze(r.path).split("\n").slice(0, 12).join("\n"));
