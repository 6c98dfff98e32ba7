// The effective configuration of a box: reads the files present, lowest precedence first, and merges them.
// Debian's /etc/default/kdump-tools, then Fedora's /etc/sysconfig/kdump and /etc/kdump.conf (kdump-utils' files win
// a conflict: their grammar is the richer one), then the hook folders /etc/kdump/pre.d and post.d.
// The files are read through a ConfigFs, so tests and `kdump config --root DIR` read a tree elsewhere.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { KDUMP_CONF, readKdumpConf } from "./kdump_conf.ts";
import { KDUMP_TOOLS, readKdumpTools } from "./kdump_tools.ts";
import { assign, merge, type FileSettings, type KdumpConfig } from "./settings.ts";
import { readSysconfigKdump, SYSCONFIG_KDUMP } from "./sysconfig_kdump.ts";

/** The hook folders of kdump-utils: every executable in them runs, in lexical order, before kdump_pre/kdump_post. */
export const PRE_D = "/etc/kdump/pre.d";
export const POST_D = "/etc/kdump/post.d";
/** The toolkit's former config file, no longer read. */
const OLD_CONFIG = "/etc/kdump/config";

/** How the config readers see the filesystem. */
export interface ConfigFs {
  /** A file's text, or null when absent. */
  read(path: string): string | null;
  /** A folder's entries, or null when absent. */
  list(dir: string): string[] | null;
  /** A file's mode bits (with the type), or null when absent. */
  mode(path: string): number | null;
}

/**
 * The files of the system installed at `root` ("" for this machine).
 * @example loadConfig(rootFs("/mnt/sysimage"))
 */
export function rootFs(root = ""): ConfigFs {
  const at = (p: string) => join(root || "/", p);
  return {
    read: (p) => {
      try {
        return readFileSync(at(p), "utf8");
      } catch {
        return null;
      }
    },
    list: (d) => {
      try {
        return readdirSync(at(d));
      } catch {
        return null;
      }
    },
    mode: (p) => statSync(at(p), { throwIfNoEntry: false })?.mode ?? null,
  };
}

/** The executables of a hook folder, in lexical order, as settings; the rest are notes. */
function hookFolder(fs: ConfigFs, dir: string, key: "preD" | "postD"): FileSettings | null {
  const names = fs.list(dir);
  if (names === null) return null;
  const out: FileSettings = { file: dir, assignments: [], notes: [] };
  const programs: string[] = [];
  for (const name of names.sort()) {
    const p = `${dir}/${name}`;
    const mode = fs.mode(p) ?? 0;
    if ((mode & 0o170000) === 0o100000 && mode & 0o111) programs.push(p);
    else out.notes.push({ file: p, line: 0, text: "not an executable file: it does not run" });
  }
  if (programs.length) out.assignments.push(assign(key, programs, { file: dir, line: 0 }));
  return out;
}

/**
 * The effective config of the box: the files present, merged. Throws ConfigError (file:line, what to do) for a
 * file the toolkit cannot use.
 * @example loadConfig().settings.target  // { kind: "dir", path: "/var/crash" } with no config file
 */
export function loadConfig(fs: ConfigFs = rootFs()): KdumpConfig {
  const files: FileSettings[] = [];
  const readers: [string, (text: string, file: string) => FileSettings][] = [
    [KDUMP_TOOLS, readKdumpTools],
    [SYSCONFIG_KDUMP, readSysconfigKdump],
    [KDUMP_CONF, readKdumpConf],
  ];
  for (const [file, read] of readers) {
    const text = fs.read(file);
    if (text !== null) files.push(read(text, file));
  }
  for (const [dir, key] of [[PRE_D, "preD"], [POST_D, "postD"]] as const) {
    const f = hookFolder(fs, dir, key);
    if (f) files.push(f);
  }
  const config = merge(files);
  if (fs.read(OLD_CONFIG) !== null) config.notes.push({ file: OLD_CONFIG, line: 0, text: "the toolkit no longer reads this file: put its settings in /etc/kdump.conf or /etc/default/kdump-tools" });
  return config;
}

/**
 * The hooks in the order the capture runs them: pre.d's programs then kdump_pre; post.d's then kdump_post.
 * @example hooks(loadConfig()).pre  // ["/etc/kdump/pre.d/10-stop-raid", "/usr/local/sbin/pre.sh"]
 */
export function hooks(c: KdumpConfig): { pre: string[]; post: string[] } {
  const s = c.settings;
  return { pre: [...s.preD, ...(s.kdumpPre ? [s.kdumpPre] : [])], post: [...s.postD, ...(s.kdumpPost ? [s.kdumpPost] : [])] };
}
