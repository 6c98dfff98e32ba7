// Fedora/RHEL /etc/kdump.conf (kdump-utils, formerly kexec-tools): "directive value" lines and # comments.
// The directives the toolkit can honour become settings; each other one is a warning with its line.
import { CODECS, DEFAULT_CONFIG, FAILURE_ACTIONS, FINAL_ACTIONS, type KdumpConfig, type LoadedConfig } from "./config.ts";
import { ConfigSyntaxError } from "./parse_error.ts";

/** The file kdump-utils reads. */
export const FEDORA_KDUMP_CONF = "/etc/kdump.conf";

/** makedumpfile's compression flags and the codec each selects. */
const CODEC_FLAGS: Record<string, (typeof CODECS)[number]> = { "-c": "zlib", "-l": "lzo", "-p": "snappy", "-z": "zstd" };
/** Local filesystem directives ("ext4 /dev/sdb1"): a dump partition the toolkit does not mount itself. */
const FS_TYPES = new Set(["ext2", "ext3", "ext4", "xfs", "btrfs", "minix", "virtiofs"]);

/** Reads /etc/kdump.conf text into settings (defaults for what it does not say) and warnings. */
export function readFedoraKdumpConf(text: string, source = FEDORA_KDUMP_CONF): LoadedConfig {
  const c: KdumpConfig = structuredClone(DEFAULT_CONFIG);
  const warnings: string[] = [];
  let path = "/var/crash";
  let remote: { kind: "nfs" | "ssh"; where: string } | null = null;
  let raw: string | null = null;
  text.split("\n").forEach((full, i) => {
    const lineNo = i + 1;
    const line = full.replace(/\r$/, "").replace(/(^|\s)#.*$/, "");
    const tokens = [...line.matchAll(/\S+/g)].map((m) => ({ text: m[0], col: m.index! + 1 }));
    if (!tokens.length) return;
    const [directive, ...args] = tokens;
    const d = directive!.text;
    const fail = (col: number, what: string): never => {
      throw new ConfigSyntaxError(source, lineNo, col, `${d}: ${what}`);
    };
    const value = () => (args.length ? args.map((a) => a.text).join(" ") : fail(directive!.col + d.length, "a value expected"));
    const one = (allowed: readonly string[]) => (allowed.includes(value()) ? args[0]!.text : fail(args[0]!.col, `expected one of ${allowed.join(", ")}`));
    switch (d) {
      case "path":
        path = value();
        if (!path.startsWith("/")) fail(args[0]!.col, "an absolute path expected");
        break;
      case "nfs":
        if (!/^[^:\s]+:\/\S*$/.test(value())) fail(args[0]!.col, "server:/export expected");
        remote = { kind: "nfs", where: value() };
        break;
      case "ssh":
        if (!/^\S+@\S+$/.test(value())) fail(args[0]!.col, "user@host expected");
        remote = { kind: "ssh", where: value() };
        break;
      case "sshkey":
        c.sshKey = value();
        break;
      case "raw":
        raw = value();
        break;
      case "core_collector":
        readCollector(args, c, warnings, `${source}:${lineNo}`, fail);
        break;
      case "failure_action":
      case "default":
        c.failureAction = one(FAILURE_ACTIONS) as KdumpConfig["failureAction"];
        break;
      case "final_action":
        c.finalAction = one(FINAL_ACTIONS) as KdumpConfig["finalAction"];
        break;
      case "extra_modules":
        c.extraModules.push(...value().split(/\s+/));
        break;
      default:
        warnings.push(
          FS_TYPES.has(d)
            ? `${source}:${lineNo}: "${d} ${value()}": dumping to a separately mounted filesystem is not supported: ignored (dumps go to ${path} on the root filesystem)`
            : `${source}:${lineNo}: ${d} is not supported by this toolkit: ignored`,
        );
    }
  });
  if (raw) c.target = { kind: "raw", device: raw };
  else if (remote === null) c.target = { kind: "local", path };
  else {
    const r = remote as { kind: "nfs" | "ssh"; where: string };
    c.target = r.kind === "ssh" ? { kind: "ssh", host: r.where, path } : { kind: "nfs", server: r.where.split(":")[0]!, path: `${r.where.slice(r.where.indexOf(":") + 1).replace(/\/$/, "")}${path}` };
  }
  return { config: c, source, warnings };
}

/** Reads `core_collector makedumpfile -l --message-level 7 -d 31` into codec and dump level. */
function readCollector(args: { text: string; col: number }[], c: KdumpConfig, warnings: string[], where: string, fail: (col: number, what: string) => never) {
  if (!args.length) fail(1, "a collector command expected");
  if (args[0]!.text !== "makedumpfile") {
    warnings.push(`${where}: core_collector ${args[0]!.text} is not supported: the dump is filtered and compressed with the toolkit's settings`);
    return;
  }
  c.codec = "none";
  for (let k = 1; k < args.length; k++) {
    const a = args[k]!;
    const d = /^-d(\d*)$/.exec(a.text);
    if (d) {
      const n = d[1] ? d[1] : args[++k]?.text;
      const col = d[1] ? a.col + 2 : (args[k]?.col ?? a.col + 2);
      if (!n || !/^\d+$/.test(n) || Number(n) > 31) fail(col, "-d takes a dump level 0-31");
      c.dumpLevel = Number(n);
    } else if (CODEC_FLAGS[a.text]) c.codec = CODEC_FLAGS[a.text]!;
    else if (a.text === "--message-level") k++;
    else if (a.text !== "-F") {
      warnings.push(`${where}: makedumpfile option ${a.text} is not supported: ignored`);
      if (args[k + 1] && !args[k + 1]!.text.startsWith("-")) k++; // and its argument
    }
  }
}
