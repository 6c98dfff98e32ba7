// Everything a box needs before the service can arm it, checked all at once before `enable` or `start` act: root,
// kexec in the kernel, reserved memory, a static busybox, the kernel image and modules, liblzma (or an xz program) for .ko.xz modules.
// Each missing one is named with the one command that installs it (apt-get on Debian/Ubuntu, dnf on Fedora/RHEL).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { KdumpError } from "../errors.ts";
import { xzSupport } from "../initramfs/modinfo.ts";
import type { ServiceHost } from "./host.ts";

/** One prerequisite and whether the box has it. */
export interface Prerequisite {
  /** What it is ("static busybox"). */
  name: string;
  /** True when present. */
  ok: boolean;
  /** What was found or is missing. */
  detail: string;
  /** The package that provides it, when a package does. */
  package?: string;
  /** What to do instead when no package does (reserve memory, run as root). */
  todo?: string;
}

/** A box that lacks prerequisites: each named, and the one command that installs the missing packages. */
export class PrerequisiteError extends KdumpError {
  override name = "PrerequisiteError";
  /** The missing ones. */
  missing: Prerequisite[];
  constructor(missing: Prerequisite[], command: string | null) {
    const todo = [command, ...missing.filter((m) => !m.package && m.todo).map((m) => m.todo)].filter(Boolean).join("; then ");
    super(`missing ${missing.map((m) => `${m.name} (${m.detail})`).join(", ")}`, { hint: todo || "see `kdump status`" });
    this.missing = missing;
  }
}

/** The package manager's install command for this box: apt-get on Debian/Ubuntu, dnf on Fedora/RHEL. */
export function installCommand(h: ServiceHost, packages: string[]): string | null {
  if (!packages.length) return null;
  const at = (p: string) => existsSync(join(h.root || "/", p));
  const rpm = at("/etc/redhat-release") || at("/etc/fedora-release");
  const names = packages.map((p) => (rpm ? RPM_NAMES[p] ?? p : p));
  return rpm ? `dnf install -y ${names.join(" ")}` : `apt-get install -y ${names.join(" ")}`;
}

/** Fedora/RHEL names of the Debian packages named here. */
const RPM_NAMES: Record<string, string> = { "busybox-static": "busybox", liblzma5: "xz-libs" };

/** True when the ELF file at `path` is statically linked (no PT_INTERP). */
function isStatic(path: string): boolean {
  const b = readFileSync(path);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length < 64 || v.getUint32(0, false) !== 0x7f454c46) return false;
  const phoff = Number(v.getBigUint64(0x20, true)); // e_phoff (8)
  const phentsize = v.getUint16(0x36, true); // e_phentsize (2)
  const phnum = v.getUint16(0x38, true); // e_phnum (2)
  for (let i = 0; i < phnum; i++) if (v.getUint32(phoff + i * phentsize, true) === 3) return false; // PT_INTERP
  return true;
}

/**
 * Every prerequisite for arming kernel `release` (default: the running one), present or not.
 * @example checkPrerequisites(realServiceHost).filter((p) => !p.ok)
 */
export function checkPrerequisites(h: ServiceHost, release?: string): Prerequisite[] {
  const at = (p: string) => join(h.root || "/", p);
  const rel = release ?? h.sys.read("/proc/sys/kernel/osrelease")?.trim() ?? "";
  const out: Prerequisite[] = [];
  const uid = h.sys.uid();
  out.push({ name: "root", ok: uid === 0, detail: uid === 0 ? "running as root" : `running as uid ${uid}`, todo: "run it as root" });
  const kexec = h.sys.read("/sys/kernel/kexec_crash_loaded") !== null;
  out.push({ name: "kexec in the kernel", ok: kexec, detail: kexec ? "/sys/kernel/kexec_crash_loaded present" : "/sys/kernel/kexec_crash_loaded missing", todo: "boot a kernel built with CONFIG_KEXEC_CORE (every distro kernel is)" });
  const size = Number(h.sys.read("/sys/kernel/kexec_crash_size")?.trim() ?? "0");
  out.push({ name: "reserved memory", ok: size > 0, detail: size > 0 ? `${Math.round(size / 1048576)} MiB reserved` : "no crashkernel= reservation", todo: "reserve memory with `kdump setup` and reboot" });
  const bb = ["/bin/busybox", "/usr/bin/busybox", "/usr/sbin/busybox"].find((p) => existsSync(at(p)));
  const bbStatic = bb ? isStatic(at(bb)) : false;
  out.push({ name: "static busybox", ok: bbStatic, detail: bb ? (bbStatic ? bb : `${bb} is dynamically linked`) : "no busybox", package: "busybox-static" });
  const image = `/boot/vmlinuz-${rel}`;
  const pkg = `linux-image-${rel}`;
  out.push({ name: "kernel image", ok: existsSync(at(image)), detail: image, package: pkg });
  const mods = `/lib/modules/${rel}`;
  out.push({ name: "kernel modules", ok: existsSync(at(mods)), detail: mods, package: pkg });
  if (existsSync(at(mods)) && hasXzModules(at(mods))) {
    // liblzma, or else the xz or busybox xz that moduleBytes() falls back to
    const xz = xzSupport();
    out.push({ name: "liblzma (for .ko.xz modules)", ok: xz !== null, detail: xz === "program" ? "no liblzma.so.5; xz decompresses them" : "liblzma.so.5", package: "liblzma5" });
  }
  return out;
}

/** True when the modules under `dir` are xz-compressed (looks at one driver folder, not the whole tree). */
function hasXzModules(dir: string): boolean {
  const d = join(dir, "kernel/drivers/block");
  return existsSync(d) && readdirSync(d).some((n) => n.endsWith(".ko.xz"));
}

/**
 * Throws PrerequisiteError naming every missing prerequisite and the one install command, before anything is done.
 * @example requirePrerequisites(realServiceHost)
 */
export function requirePrerequisites(h: ServiceHost, release?: string): Prerequisite[] {
  const all = checkPrerequisites(h, release);
  const missing = all.filter((p) => !p.ok);
  if (missing.length) throw new PrerequisiteError(missing, installCommand(h, [...new Set(missing.flatMap((m) => (m.package ? [m.package] : [])))]));
  return all;
}
