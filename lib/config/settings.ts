// The configuration model: every setting the toolkit honours, its default, and the effective config a box's files
// make, each value with the file and line it came from and the conflicts between files. The readers
// (kdump_conf.ts, sysconfig_kdump.ts, kdump_tools.ts) produce assignments; merge() makes the effective config.
import type { CompressName } from "../dump/codecs/compress.ts";
import type { FailureAction, FinalAction } from "./actions.ts";
import type { Note, Origin } from "./origin.ts";
import { DEFAULT_TARGET, type Target } from "./target.ts";

/** Dump file formats: makedumpfile's kdump-compressed (default), ELF (-E), or the flattened stream (-F). */
export const OUTPUT_FORMATS = ["kdump", "elf", "flat"] as const;
/** One dump format. */
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Every setting, with its effective value. */
export interface Settings {
  /** USE_KDUMP: false when the box's config says not to arm kdump. */
  enabled: boolean;
  /** Where dumps go. */
  target: Target;
  /** makedumpfile -d: pages to leave out, 0–31. */
  dumpLevel: number;
  /** Page compression (makedumpfile -c zlib, -l lzo, -p snappy, -z zstd; none without one). */
  codec: CompressName;
  /** Output format. */
  format: OutputFormat;
  /** Compression threads (--num-threads), or null for the collector's default. */
  threads: number | null;
  /** Save the kernel log beside the dump (vmcore-dmesg.txt). */
  dmesg: boolean;
  /** When saving fails. */
  failureAction: FailureAction;
  /** After saving, or after a pre hook skipped the dump. */
  finalAction: FinalAction;
  /** Complete dumps kept on the target (older ones deleted after a save); 0 keeps all. */
  keep: number;
  /** kdump_pre: a program run in the capture before the dump; non-zero skips the dump. */
  kdumpPre: string | null;
  /** kdump_post: run after the dump with the collector's exit status as $1. */
  kdumpPost: string | null;
  /** The programs of /etc/kdump/pre.d, in lexical order; they run before kdump_pre. */
  preD: string[];
  /** The programs of /etc/kdump/post.d, in lexical order; they run before kdump_post. */
  postD: string[];
  /** extra_bins: programs the capture may run (hooks run on the crashed root, where they are). */
  extraBins: string[];
  /** extra_modules: kernel modules added to the capture initramfs. */
  extraModules: string[];
  /** sshkey / SSH_KEY: the private key of an ssh target. */
  sshKey: string;
  /** KDUMP_COMMANDLINE / KDUMP_CMDLINE: the whole capture command line instead of the derived one, or null. */
  cmdline: string | null;
  /** Words appended to the capture command line. */
  cmdlineAppend: string[];
  /** Parameter names removed from it. */
  cmdlineRemove: string[];
  /** The capture kernel image (KDUMP_KERNEL, or /boot/vmlinuz-KDUMP_KERNELVER); null: the running kernel's. */
  kernel: string | null;
  /** kexec syscall from KEXEC_ARGS (-s file, -c load, --kexec-syscall-auto), or null for the default. */
  syscall: "file" | "load" | "auto" | null;
  /** force_rebuild (always) / force_no_rebuild (never) / auto: rebuild the initramfs when an input changed. */
  rebuild: "auto" | "always" | "never";
  /** auto_reset_crashkernel: whether a kernel update may reset crashkernel= to the default. */
  autoResetCrashkernel: boolean;
  /** HOSTTAG: the dump folder's name starts with the host name or its IP address. */
  hostTag: "hostname" | "ip";
  /** NFS_TIMEO (deciseconds), or null. */
  nfsTimeo: number | null;
  /** NFS_RETRANS, or null. */
  nfsRetrans: number | null;
  /**
   * KDUMP_DEVICE_TIMEOUT: seconds the capture waits for the local storage (md arrays, logical volumes, the dump
   * target's disk) before it runs the failure action.
   */
  deviceTimeout: number;
  /**
   * net_timeout (kdump.conf) / KDUMP_NET_TIMEOUT (kdump-tools): seconds the capture gives a network target to
   * appear (interface, link, address, then the NFS mount or the ssh connection) before the failure action.
   */
  netTimeout: number;
}

/** A box with no config file. */
export const DEFAULT_SETTINGS: Settings = {
  enabled: true,
  target: DEFAULT_TARGET,
  dumpLevel: 31,
  codec: "zstd",
  format: "kdump",
  threads: null,
  dmesg: true,
  failureAction: "reboot",
  finalAction: "reboot",
  keep: 0,
  kdumpPre: null,
  kdumpPost: null,
  preD: [],
  postD: [],
  extraBins: [],
  extraModules: [],
  sshKey: "/root/.ssh/kdump_id_rsa",
  cmdline: null,
  cmdlineAppend: [],
  cmdlineRemove: [],
  kernel: null,
  syscall: null,
  rebuild: "auto",
  autoResetCrashkernel: false,
  hostTag: "hostname",
  nfsTimeo: null,
  nfsRetrans: null,
  deviceTimeout: 90,
  netTimeout: 90,
};

/** A setting's name. */
export type SettingKey = keyof Settings;

/** One value a file sets. */
export interface SettingAssignment<K extends SettingKey = SettingKey> {
  key: K;
  value: Settings[K];
  origin: Origin;
}

/** What one file says: its assignments in file order, and its notes. */
export interface FileSettings {
  /** The file. */
  file: string;
  assignments: SettingAssignment[];
  notes: Note[];
}

/** Two places set the same thing: the winner and the ones it overrode. */
export interface Conflict {
  key: SettingKey;
  /** Where the effective value comes from. */
  winner: Origin;
  /** The places overridden, with their values, in the order read. */
  overridden: (Origin & { value: unknown })[];
}

/** The effective configuration of a box. */
export interface KdumpConfig {
  /** The values. */
  settings: Settings;
  /** Where each non-default value came from. */
  origins: Partial<Record<SettingKey, Origin>>;
  /** Settings set in more than one place. */
  conflicts: Conflict[];
  /** What the readers accepted without (full) effect. */
  notes: Note[];
  /** The files read, in precedence order (lowest first). */
  sources: string[];
}

/** A typed assignment. */
export function assign<K extends SettingKey>(key: K, value: Settings[K], origin: Origin): SettingAssignment<K> {
  return { key, value, origin };
}

/**
 * The effective config of files given lowest precedence first: a later assignment wins over an earlier one of the
 * same key (in the same file or an earlier one), and the overridden ones are recorded as a conflict.
 * @example merge([readKdumpTools(text)]).settings.keep
 */
export function merge(files: FileSettings[]): KdumpConfig {
  const settings = structuredClone(DEFAULT_SETTINGS) as Settings;
  const origins: Partial<Record<SettingKey, Origin>> = {};
  const seen = new Map<SettingKey, (Origin & { value: unknown })[]>();
  for (const f of files)
    for (const a of f.assignments) {
      (settings as unknown as Record<string, unknown>)[a.key] = a.value;
      origins[a.key] = a.origin;
      const list = seen.get(a.key) ?? [];
      list.push({ ...a.origin, value: a.value });
      seen.set(a.key, list);
    }
  const conflicts: Conflict[] = [];
  for (const [key, list] of seen)
    if (list.length > 1) {
      const { value: _v, ...winner } = list[list.length - 1]!;
      conflicts.push({ key, winner, overridden: list.slice(0, -1) });
    }
  return { settings, origins, conflicts, notes: files.flatMap((f) => f.notes), sources: files.map((f) => f.file) };
}
