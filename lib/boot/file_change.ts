// Planned edits of boot configuration files and their application: every file is checked writable first, then
// each is written to a temporary file beside it, fsync'd and renamed over the old one, with the old one kept as
// FILE.kdump-bak; if any write fails, the files already replaced are put back and no stray file is left. Paths
// resolve inside the box's root as chroot would, so a symlink is edited through to its target and stays a symlink.
// A file that cannot be renamed over (a bind mount: EBUSY) is rewritten in place after its backup. Contents are
// byte strings (see box_file.ts): bytes the edit does not touch stay identical. Any Linux filesystem.
import { accessSync, closeSync, constants, copyFileSync, existsSync, fchownSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { KdumpError } from "../errors.ts";
import { kindAt, resolveInRoot, textToBytes } from "./box_file.ts";
import { unifiedDiff } from "./diff.ts";

/** One replacement in a file: bytes [start, end) of the old text become `text`. */
export interface Edit {
  /** Offset of the first byte replaced. */
  start: number;
  /** Offset just past the last byte replaced (start for an insertion). */
  end: number;
  /** The new bytes, as a byte string. */
  text: string;
}

/** One file a plan changes. */
export interface FileChange {
  /** The path on the box, e.g. /etc/default/grub (without any --root prefix). */
  path: string;
  /** Its bytes now (a byte string), or null when the change creates it. */
  before: string | null;
  /** Its bytes after the change. */
  after: string;
  /** The replacements that turn `before` into `after`, when known: the diff is then linear in the file size. */
  edits?: Edit[];
}

/** The suffix of the copy kept of each file before it is replaced. */
export const BACKUP_SUFFIX = ".kdump-bak";

/**
 * `text` with the non-overlapping `edits` applied (in any order), in one pass.
 * @example applyEdits("ro quiet", [{ start: 2, end: 2, text: " crashkernel=256M" }]) // "ro crashkernel=256M quiet"
 */
export function applyEdits(text: string, edits: Edit[]): string {
  const parts: string[] = [];
  let at = 0;
  for (const e of [...edits].sort((x, y) => x.start - y.start || x.end - y.end)) {
    if (e.start < at) throw new RangeError(`overlapping edits at offset ${e.start}`);
    parts.push(text.slice(at, e.start), e.text);
    at = e.end;
  }
  parts.push(text.slice(at));
  return parts.join("");
}

/** The unified diff of a list of changes, file after file, as a byte string (file bytes kept as they are). */
export function changesDiff(changes: FileChange[]): string {
  return changes.map((c) => unifiedDiff(c.path, c.before, c.after, 3, c.edits)).join("");
}

const errno = (e: unknown) => (e as NodeJS.ErrnoException).code ?? "error";

/** Throws unless `file` (a host path; `shown` is how the user names it) can be replaced. */
export function checkWritable(file: string, shown = file): void {
  let dir = dirname(file);
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir); // a new file's folders are made on apply
  const kind = kindAt(file);
  if (kind === "dir") throw new KdumpError(`${shown} is a directory${file.endsWith(shown) ? "" : ` (at ${file})`}, not a file setup can write`, { hint: "move it away; nothing was changed" });
  if (kind === null && kindAt(dir) !== "dir") throw new KdumpError(`${dirname(shown)} is not a directory (at ${dir})`, { hint: "move it away; nothing was changed" });
  try {
    if (kind !== null) {
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
    const code = errno(e);
    throw new KdumpError(`${shown} cannot be written (${code})`, {
      hint: code === "EROFS" ? "its filesystem is mounted read-only: remount it read-write; nothing was changed" : "run as root; nothing was changed",
    });
  }
}

function fsyncPath(path: string, flags = constants.O_RDONLY): void {
  const fd = openSync(path, flags);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** How a file was written: renamed over (atomic) or, where rename cannot replace it (a bind mount), in place. */
export type WriteMode = "renamed" | "in-place";

/**
 * Writes the byte string `text` to the host path `file`: a temporary file in the same directory, fsync, rename,
 * fsync of the directory. When the rename fails with EBUSY (the file is a mount point, e.g. bind-mounted into a
 * container), the file is rewritten in place instead (written, truncated, fsync'd) and the temporary file removed.
 */
export function writeFileAtomic(file: string, text: string): WriteMode {
  const dir = dirname(file);
  const old = existsSync(file) ? statSync(file) : null;
  const tmp = join(dir, `.${basename(file)}.kdump-tmp-${process.pid}`);
  const bytes = textToBytes(text);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, old ? old.mode & 0o7777 : 0o644);
  try {
    writeAll(fd, bytes);
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
    if (errno(e) !== "EBUSY" || !old) throw e;
    writeInPlace(file, bytes);
    return "in-place";
  }
  fsyncPath(dir);
  return "renamed";
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
}

/** Rewrites an existing file's bytes through its own inode (mode, owner and mount stay). */
function writeInPlace(file: string, bytes: Uint8Array): void {
  const fd = openSync(file, constants.O_WRONLY);
  try {
    writeAll(fd, bytes);
    if (fstatSync(fd).size > bytes.length) ftruncateSync(fd, bytes.length);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A file written by applyChanges. */
interface Written {
  /** Host path written. */
  file: string;
  /** Its backup, or null when the change created it. */
  backup: string | null;
}

/**
 * Applies changes under `root` ("" or "/" for this box): resolves each path inside the root (a symlink is
 * written through to its target), checks every file first, keeps FILE.kdump-bak copies beside the real files,
 * writes each one, and restores the earlier files when a later one fails, leaving no backup or temporary file
 * of a change that did not happen. Errors name the file. Returns the paths written (as the box names them).
 */
export function applyChanges(changes: FileChange[], root = ""): string[] {
  const hostOf = new Map(changes.map((c) => [c, resolveInRoot(root, c.path)]));
  for (const c of changes) checkWritable(hostOf.get(c)!, c.path);
  const done: Written[] = [];
  for (const c of changes) {
    const file = hostOf.get(c)!;
    let backup: string | null = null;
    try {
      mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
      if (existsSync(file)) {
        backup = file + BACKUP_SUFFIX;
        copyFileSync(file, backup);
      }
      writeFileAtomic(file, c.after);
      done.push({ file, backup });
    } catch (e) {
      if (backup) rmSync(backup, { force: true }); // this file is unchanged: its backup would only mislead
      const failed = rollBack(done);
      throw new KdumpError(`${c.path} cannot be written (${errno(e)}${file.endsWith(c.path) ? "" : ` at ${file}`})`, {
        hint: failed.length
          ? `could not put back ${failed.join(", ")}: copy FILE${BACKUP_SUFFIX} over it by hand; fix the cause and run again`
          : "nothing was changed: fix the cause and run again",
      });
    }
  }
  return changes.map((c) => c.path);
}

/** Puts back the files already written, newest first; returns those it could not. */
function rollBack(done: Written[]): string[] {
  const failed: string[] = [];
  for (const d of [...done].reverse()) {
    try {
      if (d.backup) {
        writeFileAtomic(d.file, readFileSync(d.backup).toString("latin1"));
        rmSync(d.backup, { force: true });
      } else rmSync(d.file, { force: true });
    } catch {
      failed.push(d.file);
    }
  }
  return failed;
}
