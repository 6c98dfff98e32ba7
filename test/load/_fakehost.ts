// A fake host for the capture verbs: /proc and /sys as a map, kexec and reboot calls recorded and answered as
// told. Nothing reaches this machine's kernel.
import type { HostSys } from "../../lib/load/host.ts";
import { ERRNO } from "../../lib/sys/libc.ts";

/** What a fake host recorded. */
export interface FakeHost extends HostSys {
  /** Files written, in order, as [path, data]. */
  writes: [string, string][];
  /** kexec_file_load calls: flags and the command line text. */
  loads: { flags: number; cmdline: string; kernelFd: number; initrdFd: number }[];
  /** "sync" and "reboot <cmd>" in call order. */
  rebootCalls: string[];
}

/** errno number of a name ("EPERM" → 1). */
export function errnoOf(name: string): number {
  return Number(Object.entries(ERRNO).find(([, n]) => n === name)![0]);
}

/**
 * A fake host with `files` as its /proc, /sys and /boot; kexec_file_load fails with `kexecFails` (an errno name)
 * when given; the prompt answers `answer` (null: no terminal); uname -m is `machine` (x86_64 unless given).
 */
export function fakeHost(files: Record<string, string>, o: { kexecFails?: string; answer?: string | null; uid?: number; machine?: string } = {}): FakeHost {
  const h: FakeHost = {
    writes: [],
    loads: [],
    rebootCalls: [],
    kexec: {
      kexecFileLoad(kernelFd, initrdFd, cmdline, flags) {
        h.loads.push({ flags, kernelFd, initrdFd, cmdline: cmdline ? new TextDecoder().decode(cmdline) : "" });
        return o.kexecFails ? { ret: -1n, errno: errnoOf(o.kexecFails) } : { ret: 0n, errno: 0 };
      },
    },
    reboot: {
      sync: () => void h.rebootCalls.push("sync"),
      reboot: (cmd) => (h.rebootCalls.push(`reboot ${cmd}`), { ret: -1n, errno: errnoOf("EPERM") }),
    },
    machine: () => o.machine ?? "x86_64",
    read: (p) => files[p] ?? null,
    write: (p, d) => void h.writes.push([p, d]),
    uid: () => o.uid ?? 0,
    hostname: () => "testbox",
    prompt: async () => (o.answer === undefined ? null : o.answer),
  };
  return h;
}
