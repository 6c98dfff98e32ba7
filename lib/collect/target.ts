// Opens where `kdump collect` saves (the Target grammar is lib/config/target.ts): a directory (mounted already, or a
// device by UUID=/LABEL= that it mounts, or an NFS export it mounts), a raw block device, stdout, or ssh. Directories get kdump-utils' layout,
// <path>/<host>-<YYYY-MM-DD-HH:MM:SS>/vmcore with vmcore-dmesg.txt, written under -incomplete names and renamed only
// once complete and synced.
import { closeSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statfsSync, writeSync, chmodSync, existsSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../errors.ts";
import type { Target } from "../config/target.ts";
import { fdStream, FileSink, type DumpSink } from "../dump/sink.ts";
import { FlatSink } from "../dump/flat_writer.ts";
import { libcMount, type MountCalls } from "../sys/mount.ts";
import { findDevice } from "./blkid.ts";
import { sshOutput } from "./ssh_target.ts";
import { mountNfs } from "./nfs_target.ts";
import { currentBootId, inProgressNote } from "./unfinished.ts";

/** The system calls targets make; tests pass fakes for mount and ssh. */
export interface TargetSys {
  /** mount(2). */
  mount: MountCalls;
  /** /proc/self/mountinfo text. */
  mountinfo(): string;
  /** Finds a device by UUID=/LABEL=. */
  findDevice(spec: string): { device: string; fstype: string } | null;
  /** Starts a command with piped stdin (ssh). */
  spawn(cmd: string[]): { stdin: { write(d: Uint8Array): number | Promise<number>; flush(): number | Promise<number>; end(): number | Promise<number> }; exited: Promise<number>; stderr: () => Promise<string>; kill(): void };
}

/** This machine. */
export const realTargetSys: TargetSys = {
  mount: libcMount,
  mountinfo: () => readFileSync("/proc/self/mountinfo", "utf8"),
  findDevice: (spec) => findDevice(spec),
  spawn(cmd) {
    const p = Bun.spawn(cmd, { stdin: "pipe", stdout: "inherit", stderr: "pipe" });
    return { stdin: p.stdin, exited: p.exited, stderr: () => new Response(p.stderr).text(), kill: () => p.kill() };
  },
};

/** One dump being written somewhere. */
export interface Output {
  /** Where the dump goes, for messages (the final path when it is a file). */
  where: string;
  /** The sink the writer writes to. */
  sink: DumpSink;
  /** Bytes free at the target, or null when unknown (pipes). */
  free: number | null;
  /** Saves the kernel log beside the dump (targets without files ignore it). */
  writeDmesg(text: string): Promise<void>;
  /** Finishes: everything durable, the file renamed to its final name. Returns the final path. */
  complete(): Promise<string>;
  /** After a failure: keeps the partial file and writes `reason` beside it. Returns the partial file's path, or null. */
  fail(reason: string): Promise<string | null>;
}

/** `<host>-<YYYY-MM-DD-HH:MM:SS>` in UTC (the capture kernel has no time zone). */
export function dumpDirName(host: string, when: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  const safe = host.replace(/[^A-Za-z0-9._-]/g, "_") || "localhost";
  return `${safe}-${when.getUTCFullYear()}-${p(when.getUTCMonth() + 1)}-${p(when.getUTCDate())}-${p(when.getUTCHours())}:${p(when.getUTCMinutes())}:${p(when.getUTCSeconds())}`;
}

const REASON_RESERVE = 1024;

/**
 * Opens the output for one dump. `file` is the dump's name in its folder ("vmcore", or "vmcore.flat" for the
 * flattened format); `stream` says to write the flattened format (always so for stdout, raw and ssh).
 */
export async function openOutput(t: Target, name: { host: string; when: Date; file: string; stream: boolean }, sys: TargetSys = realTargetSys): Promise<Output> {
  if (t.kind === "stdout") return streamOutput("stdout", new FlatSink(fdStream(1)), null);
  if (t.kind === "raw") {
    const fd = openSync(t.device, "r+");
    return streamOutput(t.device, new FlatSink(fdStream(fd)), deviceSize(fd), () => fsyncSync(fd), () => closeSync(fd));
  }
  if (t.kind === "ssh") return sshOutput(t, dumpDirName(name.host, name.when), name.file, sys);
  let root = t.kind === "dir" ? t.path : "";
  let unmount: (() => void) | null = null;
  if (t.kind === "nfs") {
    const m = mountNfs(t, sys.mount);
    root = join(m.at, t.sub);
    unmount = m.unmount;
  }
  if (t.kind === "device") {
    const found = sys.findDevice(t.spec);
    if (!found) throw new UsageError(`no block device has ${t.spec}`, { hint: "check the UUID or LABEL with blkid; is the disk's driver in the capture initramfs?" });
    const mp = mountPointOf(sys.mountinfo(), found.device);
    if (mp) root = join(mp, t.sub);
    else {
      const at = `/run/kdump-target-${process.pid}`;
      mkdirSync(at, { recursive: true, mode: 0o700 });
      sys.mount.mount(found.device, at, found.fstype);
      unmount = () => sys.mount.umount(at);
      root = join(at, t.sub);
    }
  }
  return dirOutput(root, dumpDirName(name.host, name.when), name.file, name.stream, unmount);
}

/** The mount point of `device` in mountinfo text (by device number), or null. */
export function mountPointOf(mountinfo: string, device: string): string | null {
  let rdev: number;
  try {
    rdev = Number(fstatRdev(device));
  } catch {
    return null;
  }
  const majmin = `${Math.floor(rdev / 256) & 0xfff}:${(rdev & 0xff) | ((rdev >> 12) & 0xfff00)}`;
  for (const line of mountinfo.split("\n")) {
    const f = line.split(" ");
    if (f[2] === majmin && f[3] === "/") return f[4]!.replace(/\\040/g, " ");
  }
  return null;
}

function fstatRdev(path: string): number {
  const fd = openSync(path, "r");
  try {
    return fstatSync(fd).rdev;
  } finally {
    closeSync(fd);
  }
}

/** Size of a block device (its sysfs size in 512-byte sectors) or of a file. */
function deviceSize(fd: number): number | null {
  const st = fstatSync(fd);
  if (!st.isBlockDevice()) return st.size || null;
  const major = Math.floor(st.rdev / 256) & 0xfff;
  const minor = (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00);
  const p = `/sys/dev/block/${major}:${minor}/size`;
  return existsSync(p) ? Number(readFileSync(p, "utf8").trim()) * 512 : null;
}

function streamOutput(where: string, sink: DumpSink, free: number | null, sync = () => {}, close = () => {}): Output {
  return {
    where,
    sink,
    free,
    writeDmesg: async () => {},
    complete: async () => {
      await sink.finish();
      sync();
      close();
      return where;
    },
    fail: async () => {
      close();
      return null;
    },
  };
}

/** A new folder `<root>/<name>` (suffixed -2, -3 … when it exists: an earlier dump is never touched). */
function newDumpDir(root: string, name: string): string {
  mkdirSync(root, { recursive: true, mode: 0o700 });
  for (let i = 1; ; i++) {
    const dir = join(root, i === 1 ? name : `${name}-${i}`);
    try {
      mkdirSync(dir, { mode: 0o700 });
      chmodSync(dir, 0o700); // mkdir's mode passes through the umask
      return dir;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST" || i > 99) throw e;
    }
  }
}

function fsyncPath(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function dirOutput(root: string, name: string, file: string, stream: boolean, unmount: (() => void) | null): Output {
  const dir = newDumpDir(root, name);
  const partial = join(dir, `${file}-incomplete`);
  const reasonPath = `${partial}.reason`;
  // the reason file takes its block now, so it can be written even when the disk is full later
  const reasonFd = openSync(reasonPath, "wx", 0o600);
  const note = inProgressNote(new Date(), process.pid, currentBootId());
  writeSync(reasonFd, Buffer.from(note.padEnd(REASON_RESERVE, " ")), 0, REASON_RESERVE, 0);
  ftruncateSync(reasonFd, note.length);
  fsyncSync(reasonFd);
  const fd = openSync(partial, "wx", 0o600);
  const sink: DumpSink = stream ? new FlatSink(fdStream(fd)) : new FileSink(fd, partial);
  const closeAll = () => {
    try {
      if (stream) closeSync(fd);
      else sink.close();
    } catch {
      // already closed
    }
    try {
      closeSync(reasonFd);
    } catch {
      // already closed
    }
  };
  const st = statfsSync(dir);
  return {
    where: join(dir, file),
    sink,
    free: Number(process.getuid?.() === 0 ? st.bfree : st.bavail) * Number(st.bsize),
    async writeDmesg(text) {
      const tmp = join(dir, "vmcore-dmesg-incomplete.txt");
      const dfd = openSync(tmp, "wx", 0o600);
      try {
        const b = Buffer.from(text, "latin1");
        for (let o = 0; o < b.length; ) o += writeSync(dfd, b, o, b.length - o);
        fsyncSync(dfd);
      } finally {
        closeSync(dfd);
      }
      renameSync(tmp, join(dir, "vmcore-dmesg.txt"));
    },
    async complete() {
      await sink.finish();
      if (stream) fsyncSync(fd);
      closeAll();
      const final = join(dir, file);
      renameSync(partial, final);
      rmSync(reasonPath, { force: true });
      fsyncPath(dir);
      try {
        unmount?.();
      } catch {
        // leaving it mounted is harmless: the capture kernel reboots
      }
      return final;
    },
    async fail(reason) {
      try {
        const b = Buffer.from(`${reason}\n`);
        writeSync(reasonFd, b, 0, Math.min(b.length, REASON_RESERVE), 0);
        ftruncateSync(reasonFd, Math.min(b.length, REASON_RESERVE));
        fsyncSync(reasonFd);
      } catch {
        // the console message still says why
      }
      try {
        fsyncSync(fd);
      } catch {
        // a full disk may refuse even this
      }
      closeAll();
      return partial;
    },
  };
}
