// Runbook: crash this machine on purpose to prove a dump is saved. Run as root on a test box: `kdump recipes/trigger.ts`
// asks for the host name; `--yes` skips that. After the reboot, the dump is in /var/crash/<host>-<date>/vmcore.
import { readStatus, trigger } from "kdump";

// 1. Refuse early when the crash would be lost: a capture kernel must be loaded (`kdump recipes/load.ts`).
const s = readStatus();
echo(s.verdict);

// 2. Crash with sysrq 'c' (after the same check and the confirmation). Nothing after this line runs on success.
await trigger({ yes: argv.yes === true });
