// Saves a dump as kdump-utils lays it out: <out>/<host>-<YYYY-MM-DD-HH:MM:SS>/vmcore, written as vmcore-incomplete,
// synced, then renamed; files 0600, directories 0700. This version copies the ELF /proc/vmcore whole (level 0).
import { chmodSync, closeSync, existsSync, fdatasyncSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, renameSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { UsageError } from "../errors.ts";

/** What to save and where. */
export interface SaveOptions {
  /** The dump to read (/proc/vmcore in a capture kernel). */
  from: string;
  /** Directory that receives `<host>-<stamp>/`. */
  out: string;
  /** Host name for the folder; default: the kernel's, else /etc/hostname, else "localhost". */
  host?: string;
  /** The time in the folder name; default now (local time). */
  now?: Date;
}

/** What was saved. */
export interface SaveResult {
  /** The final vmcore path. */
  path: string;
  /** Bytes written. */
  bytes: number;
  /** Wall-clock seconds. */
  seconds: number;
}

const CHUNK = 4 << 20; // read size: large enough for /proc/vmcore's throughput, small for a 100 MiB capture kernel
const SYNC_EVERY = 64 << 20; // flush dirty pages this often so they never crowd the capture kernel's memory

/** `kdump collect` options; this version knows the ELF format at level 0 only (a whole copy). */
export interface CollectOptions extends Omit<SaveOptions, "now"> {
  /** Output format: "elf" (others arrive with the collect issue). */
  format?: string;
  /** makedumpfile-style dump level: 0 (no filtering) only, for now. */
  level?: number;
}

/**
 * `kdump collect`: checks the options this version supports, then saves the dump whole.
 * @example collect({ from: "/proc/vmcore", out: "/var/crash", format: "elf", level: 0 })
 */
export function collect(o: CollectOptions): SaveResult {
  if ((o.format ?? "elf") !== "elf") throw new UsageError(`--format ${o.format} is not supported yet`, { hint: "use --format elf" });
  if ((o.level ?? 0) !== 0) throw new UsageError(`--level ${o.level} is not supported yet`, { hint: "use --level 0 (a whole copy)" });
  return saveVmcore(o);
}

/** The dump folder's name: `<host>-<YYYY-MM-DD-HH:MM:SS>` (kdump-utils' layout). */
export function dumpDirName(host: string, now: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${host}-${now.getFullYear()}-${p(now.getMonth() + 1)}-${p(now.getDate())}-${p(now.getHours())}:${p(now.getMinutes())}:${p(now.getSeconds())}`;
}

/** The host name to file a dump under: the kernel's unless unset ("(none)"), then /etc/hostname. */
export function dumpHost(kernelName = hostname(), etcHostname = "/etc/hostname"): string {
  if (kernelName && kernelName !== "(none)" && kernelName !== "localhost") return kernelName;
  const etc = existsSync(etcHostname) ? readFileSync(etcHostname, "utf8").split("\n")[0]!.trim() : "";
  return etc || kernelName || "localhost";
}

/**
 * Copies `from` whole to `<out>/<host>-<stamp>/vmcore-incomplete`, fsyncs, renames it to `vmcore`.
 * @example saveVmcore({ from: "/proc/vmcore", out: "/var/crash" }).path // "/var/crash/lab-2025-01-02-03:04:05/vmcore"
 */
export function saveVmcore(o: SaveOptions): SaveResult {
  const start = performance.now();
  if (!existsSync(o.from)) throw new UsageError(`${o.from} does not exist`, { hint: "run this in a capture kernel (after a crash) or give --from a dump file" });
  mkdirSync(o.out, { recursive: true, mode: 0o700 });
  const dir = join(o.out, dumpDirName(o.host ?? dumpHost(), o.now ?? new Date()));
  mkdirSync(dir, { mode: 0o700 });
  chmodSync(dir, 0o700); // mkdir's mode is masked by the umask
  const partial = join(dir, "vmcore-incomplete");
  const src = openSync(o.from, "r");
  const dst = openSync(partial, "wx", 0o600);
  let bytes = 0;
  try {
    const buf = new Uint8Array(CHUNK);
    let sinceSync = 0;
    for (;;) {
      const n = readSync(src, buf, 0, buf.length, bytes);
      if (n === 0) break;
      for (let off = 0; off < n; ) off += writeSync(dst, buf, off, n - off, bytes + off);
      bytes += n;
      sinceSync += n;
      if (sinceSync >= SYNC_EVERY) {
        fdatasyncSync(dst);
        sinceSync = 0;
      }
    }
    fsyncSync(dst);
  } finally {
    closeSync(dst);
    closeSync(src);
  }
  const path = join(dir, "vmcore");
  renameSync(partial, path);
  const d = openSync(dir, "r");
  try {
    fsyncSync(d); // the rename itself reaches the disk
  } finally {
    closeSync(d);
  }
  return { path, bytes, seconds: (performance.now() - start) / 1000 };
}
