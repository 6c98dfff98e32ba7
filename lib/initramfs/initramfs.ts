// Builds the capture initramfs in TypeScript, no dracut or mkinitramfs: a newc cpio of static busybox, our /init and
// the target's modules (decompressed, busybox insmod loads plain .ko), compressed with a codec the kernel's config
// accepts. Cached under a directory by a hash of every input; rebuilt only when one changes.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { MissingDataError } from "../errors.ts";
import { Cpio } from "./cpio.ts";
import { captureInit, type CaptureInitConfig } from "./init.ts";
import { moduleBytes } from "./modinfo.ts";
import type { ResolvedModule } from "./modules.ts";
import type { PackedFile } from "./ssh_client.ts";

/** Where built images are kept unless told otherwise. */
export const DEFAULT_CACHE_DIR = "/var/lib/kdump";

/** The busybox applets the capture init calls (ash's builtins need none). */
const APPLETS = ["sh", "mount", "umount", "insmod", "mkdir", "sleep", "cat", "sed", "head", "findfs", "chroot", "date", "dd", "mv", "sync", "reboot", "uname", "stat", "timeout", "halt", "poweroff", "find", "sort", "tail", "dmesg", "grep", "ip", "udhcpc", "cut", "tr"];

/** A compression the kernel's initramfs unpacker knows. */
export type Codec = "zstd" | "gzip" | "none";

/** What goes into the capture initramfs. */
export interface InitramfsOptions {
  /** Release of the kernel that will unpack it (names the cache file). */
  release: string;
  /** Modules to pack, in load order (from resolveModules). */
  modules: ResolvedModule[];
  /** The rest of the init's configuration (target, Bun and kdump.ts paths, root wait). */
  init: Omit<CaptureInitConfig, "modules">;
  /** More files: path in the image → host file or contents (the storage programs, their libraries and configs). */
  files?: Record<string, string | Uint8Array>;
  /** Compression; default chosen from the kernel's config (zstd, else gzip). */
  codec: Codec;
  /** Static busybox to pack; default /bin/busybox or /usr/bin/busybox. */
  busybox?: string;
  /** Cache directory (default /var/lib/kdump). */
  cacheDir?: string;
  /** More files with their modes (a network target's ssh client, key and known_hosts: remote_target.ts). */
  packed?: PackedFile[];
}

/** A built (or reused) image. */
export interface BuiltInitramfs {
  /** The compressed image. */
  path: string;
  /** Its size in bytes. */
  bytes: number;
  /** Size of the cpio before compression (what the capture kernel unpacks into memory). */
  cpioBytes: number;
  /** Compression used. */
  codec: Codec;
  /** Hash of the inputs (part of the file name). */
  hash: string;
  /** False when an image with the same inputs was already there. */
  built: boolean;
  /** Seconds spent (hashing, and building when built). */
  seconds: number;
}

/** The busybox binary on this machine (it must be static: the capture initramfs has no libc). */
export function findBusybox(): string {
  for (const p of ["/bin/busybox", "/usr/bin/busybox", "/usr/sbin/busybox"]) if (existsSync(p)) return p;
  throw new MissingDataError("busybox not found", { hint: "install a static busybox: apt-get install busybox-static" });
}

/**
 * The codec for a kernel config's text: zstd when CONFIG_RD_ZSTD=y, else gzip when CONFIG_RD_GZIP=y, else none;
 * gzip when the config is unknown (every distro kernel has it).
 */
export function initramfsCodec(config: string | null): Codec {
  if (config === null) return "gzip";
  if (/^CONFIG_RD_ZSTD=y$/m.test(config)) return "zstd";
  if (/^CONFIG_RD_GZIP=y$/m.test(config)) return "gzip";
  return "none";
}

/** Checks that a busybox file is statically linked (no PT_INTERP program header). */
function assertStatic(path: string, bytes: Uint8Array): void {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const phoff = Number(v.getBigUint64(0x20, true)); // e_phoff (8)
  const phentsize = v.getUint16(0x36, true); // e_phentsize (2)
  const phnum = v.getUint16(0x38, true); // e_phnum (2)
  for (let i = 0; i < phnum; i++)
    if (v.getUint32(phoff + i * phentsize, true) === 3) // PT_INTERP
      throw new MissingDataError(`${path} is dynamically linked; the capture initramfs has no libc`, { hint: "install busybox-static" });
}

/**
 * Builds the capture initramfs, or returns the cached one when every input is unchanged.
 * @example buildInitramfs({ release, modules, init, codec: "zstd" }).path // "/var/lib/kdump/initramfs-6.1.0-56-cloud-amd64-3f2a….img"
 */
export function buildInitramfs(o: InitramfsOptions): BuiltInitramfs {
  const start = performance.now();
  const busyboxPath = o.busybox ?? findBusybox();
  const busybox = readFileSync(busyboxPath);
  assertStatic(busyboxPath, busybox);
  const mods = o.modules.map((m) => ({ file: `${m.name}.ko`, raw: readFileSync(m.path), path: m.path }));
  const init = captureInit({ ...o.init, modules: mods.map((m) => m.file) });
  const h = new Bun.CryptoHasher("sha256");
  h.update(`${o.codec}\0${o.release}\0`).update(init).update(busybox);
  for (const m of mods) h.update(`${m.file}\0`).update(m.raw);
  const extra = Object.entries(o.files ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)).map(([p, v]) => [p, typeof v === "string" ? readFileSync(v) : v] as const);
  for (const [p, v] of extra) h.update(`${p}\0`).update(v);
  for (const f of o.packed ?? []) h.update(`${f.path}\0${f.mode}\0`).update(f.data);
  const hash = h.digest("hex").slice(0, 16);
  const dir = o.cacheDir ?? DEFAULT_CACHE_DIR;
  const path = join(dir, `initramfs-${o.release}-${hash}.img`);
  const done = (built: boolean, cpioBytes: number, bytes: number): BuiltInitramfs => ({
    path, bytes, cpioBytes, codec: o.codec, hash, built, seconds: (performance.now() - start) / 1000,
  });
  const meta = `${path}.json`;
  if (existsSync(path) && existsSync(meta)) {
    const m = JSON.parse(readFileSync(meta, "utf8")) as { cpioBytes: number; bytes: number };
    return done(false, m.cpioBytes, m.bytes);
  }
  const c = new Cpio();
  c.file("bin/busybox", busybox, 0o755);
  for (const a of APPLETS) c.symlink(`bin/${a}`, "busybox");
  for (const d of ["proc", "sys", "dev", "tmp", "sysroot", "lib/modules"]) c.dir(d);
  for (const m of mods) c.file(`lib/modules/${m.file}`, m.path.endsWith(".ko") ? m.raw : moduleBytes(m.path), 0o644);
  for (const [p, v] of extra) c.file(p, v, /(^|\/)(s?bin)\/|\.so[.\d]*$|ld-linux/.test(p) ? 0o755 : 0o644);
  for (const f of o.packed ?? []) c.file(f.path, f.data, f.mode);
  c.file("init", init, 0o755);
  const cpio = c.bytes();
  const image = o.codec === "zstd" ? Bun.zstdCompressSync(cpio, { level: 9 }) : o.codec === "gzip" ? Bun.gzipSync(cpio as Uint8Array<ArrayBuffer>, { level: 9 }) : cpio;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const old of readdirSync(dir)) if (old.startsWith(`initramfs-${o.release}-`) && !old.startsWith(basename(path))) rmSync(join(dir, old), { force: true });
  writeFileSync(`${path}.tmp`, image, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
  writeFileSync(meta, JSON.stringify({ cpioBytes: cpio.length, bytes: image.length, modules: mods.map((m) => m.file), codec: o.codec }));
  return done(true, cpio.length, image.length);
}
