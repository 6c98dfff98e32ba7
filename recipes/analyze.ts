// Runbook: read the newest crash dump on this machine. Run: kdump recipes/analyze.ts [--path /var/crash]
// Finds the newest dump under the dump folder and prints the report: system facts, then the log up to the panic.
import { analyze, newestDump, printOutput } from "kdump";

// The dump folder: --path, else /var/crash (where Debian's kdump-tools and kdump-utils save dumps).
const dir: string = argv.path ?? "/var/crash";

// The newest dump there, whatever wrote it (ELF vmcore, makedumpfile -c/-l/-F output).
const dump = newestDump(dir);
echo(`# kdump analyze ${dump.path}   (${dump.format}, ${(dump.size / 2 ** 20).toFixed(1)} MiB, ${new Date(dump.mtimeMs).toISOString()})`);

// Its report: what crashed, where, and the last lines of its log.
await printOutput(analyze(dump.path));
