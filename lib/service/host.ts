// The box as the service verbs see it: the capture verbs' HostSys (kexec, /proc and /sys, prompt), the root of its
// files (/etc, /var/lib/kdump, /boot: "" on a real box, a scratch tree in tests) and a command runner (systemctl).
import { forecastRunning, freeBytes, type DumpForecast } from "../collect/forecast.ts";
import { realHost, type HostSys } from "../load/host.ts";

/** A command's result. */
export interface RunResult {
  /** Exit status (127 when the program is missing). */
  code: number;
  /** stdout and stderr together. */
  output: string;
}

/** Everything start, stop, enable, disable, test and status touch. */
export interface ServiceHost {
  /** kexec, /proc and /sys, uid, prompt. */
  sys: HostSys;
  /** Prefix of the box's files ("" on a real box). */
  root: string;
  /** Runs a program (systemctl, systemd-run); never through a shell. */
  run(argv: string[]): RunResult;
  /** Seconds since the epoch. */
  now(): number;
  /** The running kernel's dump-size forecast at a level (/proc/kcore); absent: `start` skips the space check. */
  forecast?(level: number): DumpForecast;
  /** Bytes free on the filesystem of a directory, or null. */
  free?(dir: string): number | null;
}

/** This machine. */
export const realServiceHost: ServiceHost = {
  sys: realHost,
  root: "",
  run(argv) {
    try {
      const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
      return { code: r.exitCode ?? 1, output: (r.stdout.toString() + r.stderr.toString()).trim() };
    } catch {
      return { code: 127, output: `${argv[0]}: not found` };
    }
  },
  now: () => Math.floor(Date.now() / 1000),
  forecast: (level) => forecastRunning(level),
  free: freeBytes,
};
