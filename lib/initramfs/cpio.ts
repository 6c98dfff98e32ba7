// A newc ("070701") cpio writer, the archive format the kernel unpacks as an initramfs
// (Documentation/driver-api/early-userspace/buffer-format.rst). Used by the capture initramfs and the lab.

/** File type bits of c_mode. */
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

/** One archive member. */
interface Entry {
  /** Path inside the archive, without a leading slash. */
  name: string;
  /** Type and permission bits. */
  mode: number;
  /** Contents (file data or symlink target). */
  data: Uint8Array;
}

const enc = new TextEncoder();

/**
 * Collects files, directories and symlinks, then serializes them as one newc archive.
 * Parent directories are created on demand, so `file("a/b/c", …)` is enough.
 * @example new Cpio().file("init", "#!/bin/sh\n", 0o755).bytes()
 */
export class Cpio {
  #entries: Entry[] = [];
  #names = new Set<string>();

  /** Adds a directory (and its parents). */
  dir(path: string, mode = 0o755): this {
    const name = clean(path);
    if (name === "" || this.#names.has(name)) return this;
    this.#parents(name);
    this.#add({ name, mode: S_IFDIR | (mode & 0o7777), data: new Uint8Array(0) });
    return this;
  }

  /** Adds a regular file with the given contents. A second file at the same path replaces the first. */
  file(path: string, data: Uint8Array | string, mode = 0o644): this {
    const name = clean(path);
    this.#parents(name);
    const bytes = typeof data === "string" ? enc.encode(data) : data;
    const i = this.#entries.findIndex((e) => e.name === name);
    const entry = { name, mode: S_IFREG | (mode & 0o7777), data: bytes };
    if (i >= 0) this.#entries[i] = entry;
    else this.#add(entry);
    return this;
  }

  /** Adds a symbolic link `path` → `target`. */
  symlink(path: string, target: string): this {
    const name = clean(path);
    this.#parents(name);
    this.#add({ name, mode: S_IFLNK | 0o777, data: enc.encode(target) });
    return this;
  }

  /** Whether a path is already in the archive. */
  has(path: string): boolean {
    return this.#names.has(clean(path));
  }

  /** The archive: each member as a 110-byte header, name and data padded to 4 bytes, then the TRAILER!!! record. */
  bytes(): Uint8Array {
    const parts: Uint8Array[] = [];
    let ino = 1;
    for (const e of this.#entries) parts.push(...member(e, ino++));
    parts.push(...member({ name: "TRAILER!!!", mode: 0, data: new Uint8Array(0) }, 0));
    const total = parts.reduce((n, p) => n + p.length, 0);
    const out = new Uint8Array(total);
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }

  #parents(name: string): void {
    const parts = name.split("/");
    for (let i = 1; i < parts.length; i++) this.dir(parts.slice(0, i).join("/"));
  }

  #add(e: Entry): void {
    this.#entries.push(e);
    this.#names.add(e.name);
  }
}

function clean(path: string): string {
  return path.replace(/^\/+/, "").replace(/\/+$/, "").replace(/\/+/g, "/");
}

const hex8 = (n: number) => (n >>> 0).toString(16).padStart(8, "0");

/** One newc record: header, NUL-terminated name, data, each padded to a multiple of 4. */
function member(e: Entry, ino: number): Uint8Array[] {
  const name = enc.encode(e.name + "\0");
  const header =
    "070701" + // c_magic (6)
    hex8(ino) + // c_ino (8)
    hex8(e.mode) + // c_mode (8)
    hex8(0) + // c_uid (8)
    hex8(0) + // c_gid (8)
    hex8((e.mode & S_IFDIR) === S_IFDIR && (e.mode & S_IFREG) !== S_IFREG ? 2 : 1) + // c_nlink (8)
    hex8(0) + // c_mtime (8): zero, so the same inputs give the same bytes
    hex8(e.data.length) + // c_filesize (8)
    hex8(0) + // c_devmajor (8)
    hex8(0) + // c_devminor (8)
    hex8(0) + // c_rdevmajor (8)
    hex8(0) + // c_rdevminor (8)
    hex8(name.length) + // c_namesize (8), including the NUL
    hex8(0); // c_check (8)
  const head = enc.encode(header);
  return [head, name, pad(110 + name.length), e.data, pad(e.data.length)];
}

function pad(len: number): Uint8Array {
  return new Uint8Array((4 - (len % 4)) % 4);
}
