// The toolkit's own settings: /etc/kdump/config, KEY=value lines a shell can source too, every key optional with
// a default. Without that file, a box's existing Fedora/RHEL /etc/kdump.conf or Debian /etc/default/kdump-tools is
// read instead, so a user switching keeps their target, dump level and actions.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { readDebianKdumpTools } from "./debian_kdump_tools.ts";
import { readFedoraKdumpConf } from "./fedora_kdump_conf.ts";
import { ConfigSyntaxError, lineColumn } from "./parse_error.ts";
import { parseShellAssignments } from "./shell_assign.ts";

/** Where dumps go. */
export type Target =
  /** A directory on this box's filesystems. */
  | { kind: "local"; path: string }
  /** An NFS export, mounted by the capture environment. */
  | { kind: "nfs"; server: string; path: string }
  /** A directory on another host, written over ssh. */
  | { kind: "ssh"; host: string; path: string }
  /** A raw partition the dump is written onto. */
  | { kind: "raw"; device: string };

/** Dump compressions (makedumpfile's -c, -l, -p, -z, or none). */
export const CODECS = ["none", "zlib", "lzo", "snappy", "zstd"] as const;
/** What the capture environment does when saving fails. */
export const FAILURE_ACTIONS = ["reboot", "halt", "poweroff", "shell", "dump_to_rootfs"] as const;
/** What it does after saving. */
export const FINAL_ACTIONS = ["reboot", "halt", "poweroff"] as const;

/** The toolkit's settings. */
export interface KdumpConfig {
  /** Where dumps go (default /var/crash). */
  target: Target;
  /** makedumpfile-style dump level 0–31: pages to leave out (default 31: all but kernel data). */
  dumpLevel: number;
  /** Page compression (default zstd: the fastest to write and smallest; crash 8.0.2 and makedumpfile 1.7.8 read it, Debian 12's makedumpfile 1.7.2 cannot: choose zlib or lzo for it). */
  codec: (typeof CODECS)[number];
  /** When saving fails (default reboot). */
  failureAction: (typeof FAILURE_ACTIONS)[number];
  /** After saving (default reboot). */
  finalAction: (typeof FINAL_ACTIONS)[number];
  /** Words added to the capture kernel's command line. */
  cmdlineAdd: string[];
  /** Parameter names removed from it. */
  cmdlineRemove: string[];
  /** ssh private key for an ssh target (default /root/.ssh/kdump_id_rsa). */
  sshKey: string;
  /** Extra kernel modules for the capture initramfs. */
  extraModules: string[];
  /** Dumps kept on a local target; older ones are removed (0 keeps all). */
  keep: number;
  /** crashkernel= value, or "auto" for `kdump estimate`'s choice. */
  crashkernel: string;
}

/** The defaults. */
export const DEFAULT_CONFIG: KdumpConfig = {
  target: { kind: "local", path: "/var/crash" },
  dumpLevel: 31,
  codec: "zstd",
  failureAction: "reboot",
  finalAction: "reboot",
  cmdlineAdd: [],
  cmdlineRemove: [],
  sshKey: "/root/.ssh/kdump_id_rsa",
  extraModules: [],
  keep: 0,
  crashkernel: "auto",
};

/** The toolkit's config file. */
export const CONFIG_FILE = "/etc/kdump/config";

/** A config read from a file, with the warnings of what it could not use. */
export interface LoadedConfig {
  /** The settings, defaults filled in. */
  config: KdumpConfig;
  /** The file read, or null when none exists (defaults only). */
  source: string | null;
  /** One line per directive or key not supported, with file and line. */
  warnings: string[];
}

/** Parses a target written as /path, nfs:server:/path, ssh:user@host:/path or raw:/dev/X. */
export function parseTarget(text: string): Target | null {
  let m: RegExpExecArray | null;
  if (text.startsWith("/")) return { kind: "local", path: text };
  if ((m = /^nfs:([^:]+):(\/.*)$/.exec(text))) return { kind: "nfs", server: m[1]!, path: m[2]! };
  if ((m = /^ssh:([^:]+):(\/.*)$/.exec(text))) return { kind: "ssh", host: m[1]!, path: m[2]! };
  if ((m = /^raw:(\/dev\/.+)$/.exec(text))) return { kind: "raw", device: m[1]! };
  return null;
}

/** A target as the config file writes it. */
export function formatTarget(t: Target): string {
  return t.kind === "local" ? t.path : t.kind === "raw" ? `raw:${t.device}` : `${t.kind}:${t.kind === "nfs" ? t.server : t.host}:${t.path}`;
}

const KEYS: Record<string, (c: KdumpConfig, v: string) => boolean> = {
  KDUMP_TARGET: (c, v) => !!(c.target = parseTarget(v)!),
  KDUMP_DUMP_LEVEL: (c, v) => /^\d+$/.test(v) && Number(v) <= 31 && ((c.dumpLevel = Number(v)), true),
  KDUMP_CODEC: (c, v) => (CODECS as readonly string[]).includes(v) && ((c.codec = v as KdumpConfig["codec"]), true),
  KDUMP_FAILURE_ACTION: (c, v) => (FAILURE_ACTIONS as readonly string[]).includes(v) && ((c.failureAction = v as KdumpConfig["failureAction"]), true),
  KDUMP_FINAL_ACTION: (c, v) => (FINAL_ACTIONS as readonly string[]).includes(v) && ((c.finalAction = v as KdumpConfig["finalAction"]), true),
  KDUMP_CMDLINE_ADD: (c, v) => ((c.cmdlineAdd = words(v)), true),
  KDUMP_CMDLINE_REMOVE: (c, v) => ((c.cmdlineRemove = words(v)), true),
  KDUMP_SSH_KEY: (c, v) => v.startsWith("/") && ((c.sshKey = v), true),
  KDUMP_EXTRA_MODULES: (c, v) => ((c.extraModules = words(v)), true),
  KDUMP_KEEP: (c, v) => /^\d+$/.test(v) && ((c.keep = Number(v)), true),
  KDUMP_CRASHKERNEL: (c, v) => v !== "" && ((c.crashkernel = v), true),
};

const EXPECT: Record<string, string> = {
  KDUMP_TARGET: "/path, nfs:server:/path, ssh:user@host:/path or raw:/dev/X",
  KDUMP_DUMP_LEVEL: "a number 0-31",
  KDUMP_CODEC: CODECS.join(", "),
  KDUMP_FAILURE_ACTION: FAILURE_ACTIONS.join(", "),
  KDUMP_FINAL_ACTION: FINAL_ACTIONS.join(", "),
  KDUMP_SSH_KEY: "an absolute path",
  KDUMP_KEEP: "a number (0 keeps all)",
  KDUMP_CRASHKERNEL: 'a crashkernel= value or "auto"',
};

function words(v: string): string[] {
  return v.split(/\s+/).filter(Boolean);
}

/** Reads the toolkit's config text. Bad values throw ConfigSyntaxError at the value; unknown keys are warnings. */
export function readConfig(text: string, source = CONFIG_FILE): LoadedConfig {
  const config: KdumpConfig = structuredClone(DEFAULT_CONFIG);
  const warnings: string[] = [];
  for (const a of parseShellAssignments(text, source)) {
    const set = KEYS[a.name];
    if (!set) {
      warnings.push(`${source}:${a.line}: ${a.name} is not a setting of this toolkit: ignored`);
      continue;
    }
    const { line, column } = lineColumn(text, a.valueStart);
    if (a.literal === null) throw new ConfigSyntaxError(source, line, column, `${a.name} must be a plain value, not a shell expansion`);
    if (!set(config, a.literal)) throw new ConfigSyntaxError(source, line, column, `${a.name}=${a.literal}: expected ${EXPECT[a.name]}`);
  }
  return { config, source, warnings };
}

/** The config as file text: every key with its value, one per line, quoted for the shell. */
export function formatConfig(c: KdumpConfig): string {
  const q = (v: string) => `"${v.replace(/["\\$`]/g, "\\$&")}"`;
  return [
    "# kdump toolkit settings (KEY=value; a shell can source this file). See `kdump --help`.",
    `KDUMP_TARGET=${q(formatTarget(c.target))}`,
    `KDUMP_DUMP_LEVEL=${c.dumpLevel}`,
    `KDUMP_CODEC=${c.codec}`,
    `KDUMP_FAILURE_ACTION=${c.failureAction}`,
    `KDUMP_FINAL_ACTION=${c.finalAction}`,
    `KDUMP_CMDLINE_ADD=${q(c.cmdlineAdd.join(" "))}`,
    `KDUMP_CMDLINE_REMOVE=${q(c.cmdlineRemove.join(" "))}`,
    `KDUMP_SSH_KEY=${q(c.sshKey)}`,
    `KDUMP_EXTRA_MODULES=${q(c.extraModules.join(" "))}`,
    `KDUMP_KEEP=${c.keep}`,
    `KDUMP_CRASHKERNEL=${q(c.crashkernel)}`,
    "",
  ].join("\n");
}

/**
 * The settings of the box under `root`: /etc/kdump/config, else Fedora/RHEL's /etc/kdump.conf, else Debian's
 * /etc/default/kdump-tools, else the defaults.
 */
export function loadConfig(root = ""): LoadedConfig {
  const read = (p: string) => readFileSync(join(root, p), "utf8");
  if (existsSync(join(root, CONFIG_FILE))) return readConfig(read(CONFIG_FILE));
  if (existsSync(join(root, "/etc/kdump.conf"))) return readFedoraKdumpConf(read("/etc/kdump.conf"));
  if (existsSync(join(root, "/etc/default/kdump-tools"))) return readDebianKdumpTools(read("/etc/default/kdump-tools"));
  return { config: structuredClone(DEFAULT_CONFIG), source: null, warnings: [] };
}
