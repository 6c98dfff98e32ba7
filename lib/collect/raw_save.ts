// The next boot's half of a raw target (kdump.conf `raw /dev/…`): the capture wrote the flattened stream onto the
// partition; this finds it, reassembles it into a normal dump file as `makedumpfile -R` does (each record's data at
// its offset), saves it as <dir>/<host>-<date>/vmcore (written as vmcore-incomplete, synced, renamed), and marks the
// partition consumed by zeroing the stream's header, as kdumpctl does.
import { closeSync, fsyncSync, mkdirSync, openSync, readSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";
import { DumpFormatError } from "../errors.ts";
import { isFlattened } from "../dump/flattened.ts";
import { dumpDirName } from "./target.ts";

const HEADER = 4096;
const CHUNK = 1 << 20;

/** What was saved from a raw partition. */
export interface RawSave {
  /** The dump file written. */
  path: string;
  /** Its size in bytes. */
  bytes: number;
}

/** True when `device` holds a flattened stream not yet saved (its header is there). */
export function rawDumpPending(device: string): boolean {
  const fd = openSync(device, "r");
  try {
    const head = new Uint8Array(32);
    return readSync(fd, head, 0, 32, 0) === 32 && isFlattened(head);
  } finally {
    closeSync(fd);
  }
}

/**
 * Saves the stream on `device` under `dir`, then zeroes its header; null when the device holds no stream.
 * A stream without its end marker (the capture was cut short) is left as vmcore-incomplete and the partition
 * is not marked, so nothing named vmcore is ever incomplete.
 * @example saveRawDump("/dev/vdb", "/var/crash", "web1")  // { path: "/var/crash/web1-2026-12-01-13:05:00/vmcore", … }
 */
export function saveRawDump(device: string, dir: string, host: string, when = new Date()): RawSave | null {
  if (!rawDumpPending(device)) return null;
  const fd = openSync(device, "r+");
  try {
    return reassemble(fd, device, dir, host, when);
  } finally {
    closeSync(fd);
  }
}

function reassemble(fd: number, device: string, dir: string, host: string, when: Date): RawSave {
  const folder = join(dir, dumpDirName(host, when));
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  const partial = join(folder, "vmcore-incomplete");
  const out = openSync(partial, "w", 0o600);
  let bytes = 0;
  try {
    const head = new Uint8Array(16);
    const buf = new Uint8Array(CHUNK);
    for (let at = HEADER; ; ) {
      if (readSync(fd, head, 0, 16, at) < 16) throw new DumpFormatError(`${device}: the flattened stream ends without its end marker`, { offset: at, hint: `the capture was cut short; the partial dump is kept as ${partial}` });
      const v = new DataView(head.buffer);
      const offset = v.getBigInt64(0, false); // big-endian, as makedumpfile writes
      const size = Number(v.getBigInt64(8, false));
      at += 16;
      if (offset === -1n) break;
      if (offset < 0n || size < 0) throw new DumpFormatError(`${device}: bad flattened record (offset ${offset}, size ${size})`, { offset: at - 16 });
      for (let done = 0; done < size; ) {
        const n = readSync(fd, buf, 0, Math.min(CHUNK, size - done), at + done);
        if (n <= 0) throw new DumpFormatError(`${device}: the flattened stream is truncated`, { offset: at + done, hint: `the partial dump is kept as ${partial}` });
        writeSync(out, buf, 0, n, Number(offset) + done);
        done += n;
      }
      bytes = Math.max(bytes, Number(offset) + size);
      at += size;
    }
    fsyncSync(out);
  } finally {
    closeSync(out);
  }
  const path = join(folder, "vmcore");
  renameSync(partial, path);
  writeSync(fd, new Uint8Array(HEADER), 0, HEADER, 0); // consumed: the header is gone, the next boot finds nothing
  fsyncSync(fd);
  return { path, bytes };
}
