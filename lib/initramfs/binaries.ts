// Dynamically linked programs of the host (lvm, mdadm) for the capture initramfs: the program and every shared
// library `ldd` lists, each at its own path, so the dynamic loader finds them as on the host.
import { existsSync, realpathSync } from "node:fs";
import { MissingDataError } from "../errors.ts";

/**
 * The files a program needs: itself and its libraries (the loader included), as [path in the image, host file].
 * @example programFiles("/sbin/lvm").map(([p]) => p) // ["sbin/lvm", "lib/x86_64-linux-gnu/libdevmapper.so.1.02.1", …]
 */
export function programFiles(program: string): [string, string][] {
  if (!existsSync(program)) throw new MissingDataError(`${program} not found`);
  const r = Bun.spawnSync(["ldd", program], { stdout: "pipe", stderr: "pipe" });
  const out = r.stdout.toString();
  const files: [string, string][] = [[program.replace(/^\//, ""), realpathSync(program)]];
  if (r.exitCode !== 0) {
    if (/not a dynamic executable/.test(out + r.stderr.toString())) return files; // static
    throw new MissingDataError(`ldd ${program} failed`, { hint: r.stderr.toString().trim() || "is ldd (libc-bin) installed?" });
  }
  const missing = [...out.matchAll(/^\s*(\S+) => not found/gm)].map((m) => m[1]!);
  if (missing.length) throw new MissingDataError(`${program} needs ${missing.join(", ")}, which this machine lacks`, { hint: "reinstall the package that owns it" });
  for (const line of out.split("\n")) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s+(\/\S+)\s+\(/.exec(line);
    if (m) files.push([m[1]!.replace(/^\//, ""), realpathSync(m[1]!)]);
  }
  return files;
}

/** The first of `names` found in the usual sbin/bin folders, or null. */
export function findProgram(...names: string[]): string | null {
  for (const n of names) for (const d of ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]) if (existsSync(`${d}/${n}`)) return `${d}/${n}`;
  return null;
}
