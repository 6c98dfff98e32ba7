// The host as the capture verbs see it: kexec and reboot syscalls, /proc and /sys files, the uid,
// the host name and a prompt. `realHost` is this machine; tests pass a fake so no path ever reaches the kernel.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { libcKexec, type KexecCalls } from "../sys/kexec.ts";
import { libcKexecLoad, type KexecLoadCalls } from "../sys/kexec_load.ts";
import { libcReboot, type RebootCalls } from "../sys/reboot.ts";
import { rootFs, type ConfigFs } from "../config/load.ts";

/** Everything load, unload, trigger and exec touch on the host. */
export interface HostSys {
  /** kexec_file_load. */
  kexec: KexecCalls;
  /** kexec_load (`kdump load --syscall load|auto`); absent in fakes that must never reach it. */
  kexecLoad?: KexecLoadCalls;
  /** sync and reboot. */
  reboot: RebootCalls;
  /** Reads a host file (/proc, /sys, /boot), or null when absent or unreadable. */
  read(path: string): string | null;
  /** Writes a /proc or /sys file. */
  write(path: string, data: string): void;
  /** Effective uid. */
  uid(): number;
  /** The host name a user must type to confirm. */
  hostname(): string;
  /** Asks a question on the terminal; null when there is no terminal. */
  prompt(question: string): Promise<string | null>;
  /** The config files (/etc/kdump.conf, /etc/default/kdump-tools …); absent in fakes: no config file, defaults. */
  configFs?: ConfigFs;
}

/** This machine. */
export const realHost: HostSys = {
  kexec: libcKexec,
  kexecLoad: libcKexecLoad,
  reboot: libcReboot,
  read: (p) => {
    try {
      return existsSync(p) ? readFileSync(p, "utf8") : null;
    } catch {
      return null;
    }
  },
  write: (p, d) => writeFileSync(p, d),
  uid: () => process.geteuid?.() ?? -1,
  hostname: () => hostname(),
  configFs: rootFs(),
  prompt: async (q) => {
    if (!process.stdin.isTTY) return null;
    const { createInterface } = await import("node:readline"); // loaded only when asking: it slows every start
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      return await new Promise<string>((res) => rl.question(q, res));
    } finally {
      rl.close();
    }
  },
};

/** A /sys or /proc flag file read as a boolean ("1" → true), null when absent. */
export function readFlag(sys: HostSys, path: string): boolean | null {
  const t = sys.read(path);
  return t === null ? null : t.trim() === "1";
}
