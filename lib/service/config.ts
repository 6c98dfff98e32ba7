// The config as the service uses it: what `start` passes to the loader (dump directory, command-line edits, extra
// modules) and which files it came from, refusing a target the capture cannot honour yet at its file and line.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { formatTarget, loadConfig } from "../boot/config.ts";
import { ConfigSyntaxError } from "../boot/parse_error.ts";
import type { ServiceHost } from "./host.ts";

/** The config files the service reads (the first one present wins, as loadConfig() reads them). */
export const CONFIG_FILES = ["/etc/kdump/config", "/etc/kdump.conf", "/etc/default/kdump-tools"];

/** What start needs from the config. */
export interface ServiceConfig {
  /** Directory on the root filesystem for dumps. */
  target: string;
  /** Capture command line edits. */
  append: string[];
  remove: string[];
  /** Extra modules for the capture initramfs. */
  modules: string[];
  /** The config files present (inputs of the capture image). */
  files: string[];
  /** What the readers accepted without effect, with file and line. */
  warnings: string[];
}

/** The 1-based line of the first line of `file` under `root` whose first word is one of `keys`, or 0. */
function lineOf(h: ServiceHost, file: string, keys: string[]): number {
  const text = readFileSync(join(h.root || "/", file), "utf8").split("\n");
  const i = text.findIndex((l) => keys.some((k) => new RegExp(`^\\s*${k}(\\s|=|$)`).test(l)));
  return i + 1;
}

/**
 * Reads the box's config. Throws ConfigSyntaxError (file:line:column, what to do) for a value it cannot use or a
 * target the capture does not support yet; nothing is loaded or unloaded before this succeeds.
 * @example serviceConfig(realServiceHost).target  // "/var/crash"
 */
export function serviceConfig(h: ServiceHost): ServiceConfig {
  const loaded = loadConfig(h.root);
  const c = loaded.config;
  const files = CONFIG_FILES.filter((f) => existsSync(join(h.root || "/", f)));
  if (c.target.kind !== "local") {
    const file = loaded.source ?? files[0] ?? "(default)";
    const line = loaded.source ? lineOf(h, file, ["nfs", "ssh", "raw", "KDUMP_TARGET", "NFS", "SSH"]) : 0;
    throw new ConfigSyntaxError(file, line, 1, `dump target ${formatTarget(c.target)} (${c.target.kind}) is not supported yet`, {
      hint: "the capture writes only to a directory on the root filesystem for now: use a local path (kdump.conf: path /var/crash); the loaded capture kernel, if any, stays loaded",
    });
  }
  return { target: c.target.path, append: c.cmdlineAdd, remove: c.cmdlineRemove, modules: c.extraModules, files, warnings: loaded.warnings };
}
