// The OpenSSH client for the capture initramfs: the system's own `ssh` and the shared libraries ldd names (the
// dynamic loader included) at the paths it names, a passwd entry for root (ssh asks getpwuid who it is), the dump
// key and the known_hosts that `kdump propagate` recorded. Nothing is re-implemented: it is the real client.
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { MissingDataError, UsageError } from "../errors.ts";

/** A file packed into the capture initramfs. */
export interface PackedFile {
  /** Path in the initramfs, without the leading slash. */
  path: string;
  data: Uint8Array;
  mode: number;
}

/** Where the capture init finds the key and the host keys. */
export const CAPTURE_SSH_KEY = "/etc/kdump/ssh_key";
export const CAPTURE_KNOWN_HOSTS = "/etc/kdump/known_hosts";

/** The known_hosts file `kdump propagate` writes for a key: beside it. */
export function knownHostsFor(key: string): string {
  return `${key}.known_hosts`;
}

/** Paths ldd names for an executable: `lib => /path (…)` and the loader's `/path (…)`. */
export function parseLdd(text: string): string[] {
  const missing = [...text.matchAll(/^\s*(\S+) => not found/gm)].map((m) => m[1]!);
  if (missing.length) throw new MissingDataError(`ldd: ${missing.join(", ")} not found`, { hint: "reinstall the package that provides them" });
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s+(\/\S+)\s+\(/.exec(line);
    if (m && !out.includes(m[1]!)) out.push(m[1]!);
  }
  return out;
}

/** The ELF program interpreter (PT_INTERP) of a 64-bit executable, or null for a static one. */
export function elfInterpreter(bytes: Uint8Array): string | null {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const phoff = Number(v.getBigUint64(0x20, true)); // e_phoff (8)
  const phentsize = v.getUint16(0x36, true); // e_phentsize (2)
  const phnum = v.getUint16(0x38, true); // e_phnum (2)
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (v.getUint32(ph, true) !== 3) continue; // PT_INTERP
    const off = Number(v.getBigUint64(ph + 8, true)); // p_offset (8)
    const size = Number(v.getBigUint64(ph + 32, true)); // p_filesz (8)
    return Buffer.from(bytes.subarray(off, off + size)).toString("latin1").replace(/\0+$/, "");
  }
  return null;
}

/**
 * An executable and its shared libraries, as files for the initramfs (the executable at bin/NAME). The libraries
 * come from its own dynamic loader (`ld.so --list`, what ldd runs), so no ldd script is needed.
 */
export function executableFiles(exe: string, name: string): PackedFile[] {
  if (!existsSync(exe)) throw new MissingDataError(`${exe} not found`, { hint: name === "ssh" ? "install the OpenSSH client: apt-get install openssh-client (dnf install openssh-clients)" : `install ${name}` });
  const bytes = readFileSync(exe);
  const interp = elfInterpreter(bytes);
  let libs: string[] = [];
  if (interp) {
    const r = Bun.spawnSync([interp, "--list", exe], { stdout: "pipe", stderr: "pipe" });
    if (!r.success) throw new MissingDataError(`${interp} --list ${exe} failed: ${r.stderr.toString().trim()}`, { hint: `is ${exe} for this machine?` });
    libs = parseLdd(r.stdout.toString());
    if (!libs.includes(interp)) libs.push(interp);
  }
  return [
    { path: `bin/${name}`, data: bytes, mode: 0o755 },
    ...libs.map((l) => ({ path: l.slice(1), data: readFileSync(realpathSync(l)), mode: 0o755 })),
  ];
}

/**
 * The ssh client, its libraries, root's passwd entry, the key and the recorded host keys.
 * @example sshClientFiles("/root/.ssh/kdump_id_rsa").map((f) => f.path)  // ["bin/ssh", "lib/x86_64-linux-gnu/libcrypto.so.3", …]
 */
export function sshClientFiles(key: string, ssh = "/usr/bin/ssh"): PackedFile[] {
  const known = knownHostsFor(key);
  if (!existsSync(key)) throw new UsageError(`the ssh key ${key} does not exist`, { hint: "run `kdump propagate`: it creates the key, installs it on the target host and records its host key" });
  if (!existsSync(known)) throw new UsageError(`no host key recorded for the ssh target (${known} is missing)`, { hint: "run `kdump propagate`: it records the target's host key, which the capture checks strictly" });
  return [
    ...executableFiles(ssh, "ssh"),
    { path: "etc/passwd", data: Buffer.from("root:x:0:0:root:/root:/bin/sh\n"), mode: 0o644 },
    { path: "etc/group", data: Buffer.from("root:x:0:\n"), mode: 0o644 },
    { path: CAPTURE_SSH_KEY.slice(1), data: readFileSync(key), mode: 0o600 },
    { path: CAPTURE_KNOWN_HOSTS.slice(1), data: readFileSync(known), mode: 0o644 },
  ];
}
