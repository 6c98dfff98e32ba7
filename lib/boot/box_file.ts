// The files of a box as setup sees them: every path resolved inside the box's root as chroot would (an absolute
// symlink target starts again at the root, ".." stops at the root), and contents read and written as bytes held
// in "byte strings" (one char per byte, latin1), so bytes setup does not change stay identical. Any Linux.
import { lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { join } from "node:path";
import { KdumpError } from "../errors.ts";

/** The kernel's limit on symlinks followed in one lookup (MAXSYMLINKS); more is ELOOP. */
const MAX_LINKS = 40;

/**
 * The host path of `path` on the box under `root` ("" or "/" for this box), every symlink followed inside the
 * root. A missing component ends the walk: the rest is appended as written (a file setup may create).
 * @example resolveInRoot("/srv/box", "/etc/default/grub") // "/srv/box/etc/grub-real" when grub -> /etc/grub-real
 */
export function resolveInRoot(root: string, path: string): string {
  const base = root === "" ? "/" : root;
  let done: string[] = []; // resolved components under the root
  let todo = path.split("/").filter((c) => c !== "" && c !== ".");
  let links = 0;
  while (todo.length) {
    const c = todo.shift()!;
    if (c === "..") {
      done.pop(); // at the root, ".." is the root
      continue;
    }
    const host = join(base, ...done, c);
    let st;
    try {
      st = lstatSync(host);
    } catch {
      return join(base, ...done, c, ...todo);
    }
    if (!st.isSymbolicLink()) {
      done.push(c);
      continue;
    }
    if (++links > MAX_LINKS) throw new KdumpError(`${path}: too many levels of symbolic links inside ${base}`, { hint: "fix the symlink loop; nothing was changed" });
    const target = readlinkSync(host);
    if (target.startsWith("/")) done = [];
    todo = [...target.split("/").filter((x) => x !== "" && x !== "."), ...todo];
  }
  return join(base, ...done);
}

/** The kind of what is at a host path: a regular file, a directory, something else, or nothing. */
export function kindAt(host: string): "file" | "dir" | "other" | null {
  try {
    const st = statSync(host);
    return st.isFile() ? "file" : st.isDirectory() ? "dir" : "other";
  } catch {
    return null;
  }
}

/** True when `path` exists on the box (after resolving symlinks inside the root). */
export function boxExists(root: string, path: string): boolean {
  return kindAt(resolveInRoot(root, path)) !== null;
}

/**
 * The bytes of file `path` on the box as a byte string, or null when nothing is there. Throws a KdumpError
 * naming the path when something other than a file is there (a directory where /etc/default/grub should be).
 */
export function readBoxBytes(root: string, path: string): string | null {
  const host = resolveInRoot(root, path);
  const kind = kindAt(host);
  if (kind === null) return null;
  if (kind !== "file")
    throw new KdumpError(`${path} is ${kind === "dir" ? "a directory" : "not a regular file"}${host !== join(root || "/", path) ? ` (at ${host})` : ""}, not a file setup can edit`, {
      hint: `move it away or replace it by the file it should be; nothing was changed`,
    });
  try {
    return bytesToText(readFileSync(host));
  } catch (e) {
    throw new KdumpError(`${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? "error"})`, { hint: "run as root; nothing was changed" });
  }
}

/** The names in directory `path` on the box (resolved inside the root), sorted in C collation; [] when absent. */
export function listBoxDir(root: string, path: string): string[] {
  const host = resolveInRoot(root, path);
  if (kindAt(host) !== "dir") return [];
  return readdirSync(host).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Bytes as a byte string (char i = byte i). */
export function bytesToText(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
}

/** A byte string back to its bytes. */
export function textToBytes(text: string): Buffer {
  return Buffer.from(text, "latin1");
}

/** A JS (UTF-16) string as the byte string of its UTF-8 encoding, to mix messages with file bytes. */
export function utf8Bytes(s: string): string {
  return Buffer.from(s, "utf8").toString("latin1");
}

/** A byte string as readable text: UTF-8 when it is valid UTF-8, else each byte as its latin1 character. */
export function displayText(bytes: string): { text: string; encoding: "utf-8" | "latin1" } {
  try {
    return { text: new TextDecoder("utf-8", { fatal: true }).decode(textToBytes(bytes)), encoding: "utf-8" };
  } catch {
    return { text: bytes, encoding: "latin1" };
  }
}
