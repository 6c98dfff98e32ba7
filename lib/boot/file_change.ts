// Planned edits of boot configuration files and their atomic application: every file is checked writable first,
// then each is written to a temporary file, fsync'd and renamed over the old one, with the old one kept as
// FILE.kdump-bak; if any write fails, the files already replaced are put back. Any Linux, any filesystem with rename.
import { accessSync, closeSync, constants, copyFileSync, existsSync, fchownSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { KdumpError } from "../errors.ts";
import { unifiedDiff } from "./diff.ts";

/** One file a plan changes. */
export interface FileChange {
  /** The path on the box, e.g. /etc/default/grub (without any --root prefix). */
  path: string;
  /** Its text now, or null when the change creates it. */
  before: string | null;
  /** Its text after the change. */
  after: string;
}

/** The suffix of the copy kept of each file before it is replaced. */
export const BACKUP_SUFFIX = ".kdump-bak";

/** The unified diff of a list of changes, file after file. */
export function changesDiff(changes: FileChange[]): string {
  return changes.map((c) => unifiedDiff(c.path, c.before, c.after)).join("");
}

/** Throws unless `file` (and its directory) can be replaced: not read-only by mode, mount or permission. */
export function checkWritable(file: string, shown = file): void {
  let dir = dirname(file);
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir); // a new file's folders are made on apply
  try {
    if (existsSync(file)) {
      const mode = statSync(file).mode & 0o777;
      if ((mode & 0o222) === 0)
        throw new KdumpError(`${shown} is read-only (mode ${mode.toString(8).padStart(4, "0")})`, {
          hint: "someone protected it on purpose: make it writable (chmod u+w) and run again, or edit it by hand; nothing was changed",
        });
      accessSync(file, constants.W_OK);
    }
    accessSync(dir, constants.W_OK);
  } catch (e) {
    if (e instanceof KdumpError) throw e;
    const code = (e as NodeJS.ErrnoException).code ?? "error";
    throw new KdumpError(`${shown} cannot be written (${code})`, {
      hint: code === "EROFS" ? "its filesystem is mounted read-only: remount it read-write; nothing was changed" : "run as root; nothing was changed",
    });
  }
}

/** Writes `text` to `file` atomically: a temporary file in the same directory, fsync, rename, fsync of the directory. */
export function writeFileAtomic(file: string, text: string): void {
  const dir = dirname(file);
  const old = existsSync(file) ? statSync(file) : null;
  const tmp = join(dir, `.${basename(file)}.kdump-tmp-${process.pid}`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, old ? old.mode & 0o7777 : 0o644);
  try {
    writeSync(fd, text);
    if (old) fchownSync(fd, old.uid, old.gid);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  const dfd = openSync(dir, constants.O_RDONLY);
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

/**
 * Applies changes under `root` ("" or "/" for this box): checks every file first, keeps FILE.kdump-bak copies,
 * writes each atomically, and restores the earlier files when a later one fails. Returns the paths written.
 */
export function applyChanges(changes: FileChange[], root = ""): string[] {
  const at = (p: string) => (root === "" || root === "/" ? p : join(root, p));
  for (const c of changes) checkWritable(at(c.path), c.path);
  const done: { file: string; backup: string | null }[] = [];
  try {
    for (const c of changes) {
      const file = at(c.path);
      let backup: string | null = null;
      mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
      if (existsSync(file)) {
        backup = file + BACKUP_SUFFIX;
        copyFileSync(file, backup);
      }
      writeFileAtomic(file, c.after);
      done.push({ file, backup });
    }
  } catch (e) {
    for (const d of done.reverse()) {
      if (d.backup) writeFileAtomic(d.file, readFileSync(d.backup, "utf8"));
      else rmSync(d.file, { force: true });
    }
    throw e;
  }
  return changes.map((c) => c.path);
}
