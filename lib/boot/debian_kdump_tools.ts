// Debian/Ubuntu /etc/default/kdump-tools (kdump-tools' kdump-config sources it): shell assignments. The ones the
// toolkit can honour become settings; every other variable that is set is a warning with its line.
import { DEFAULT_CONFIG, type KdumpConfig, type LoadedConfig } from "./config.ts";
import { ConfigSyntaxError, lineColumn } from "./parse_error.ts";
import { parseShellAssignments } from "./shell_assign.ts";

/** The file kdump-tools reads. */
export const DEBIAN_KDUMP_TOOLS = "/etc/default/kdump-tools";

/** kdump-config's capture command-line additions when KDUMP_CMDLINE_APPEND is unset. */
const DEBIAN_APPEND = "reset_devices systemd.unit=kdump-tools-dump.service nr_cpus=1 irqpoll usbcore.nousb";
/** Variables that only choose how kdump-tools itself runs: read without a warning. */
const QUIET = new Set(["USE_KDUMP", "KDUMP_KERNEL", "KDUMP_INITRD", "NFS_TIMEO", "NFS_RETRANS", "HOSTTAG", "KDUMP_DUMP_DMESG"]);

/** Reads /etc/default/kdump-tools text into settings (its defaults for what it does not set) and warnings. */
export function readDebianKdumpTools(text: string, source = DEBIAN_KDUMP_TOOLS): LoadedConfig {
  const c: KdumpConfig = structuredClone(DEFAULT_CONFIG);
  const warnings: string[] = [];
  const v: Record<string, { value: string; line: number; column: number }> = {};
  for (const a of parseShellAssignments(text, source)) {
    const { line, column } = lineColumn(text, a.valueStart);
    if (a.literal === null) {
      warnings.push(`${source}:${a.line}: ${a.name} uses a shell expansion the toolkit does not evaluate: ignored`);
      continue;
    }
    v[a.name] = { value: a.literal, line, column };
  }
  const path = v.KDUMP_COREDIR?.value || "/var/crash";
  c.target = { kind: "local", path };
  // kdump-config's default MAKEDUMP_ARGS is "-F -c -d 31": flattened, zlib, level 31.
  c.codec = "zlib";
  if (v.MAKEDUMP_ARGS) {
    c.codec = "none";
    const words = [...v.MAKEDUMP_ARGS.value.matchAll(/\S+/g)];
    for (let k = 0; k < words.length; k++) {
      const w = words[k]![0];
      const col = v.MAKEDUMP_ARGS.column + 1 + words[k]!.index!;
      if (w === "-d") {
        const n = words[++k]?.[0];
        if (!n || !/^\d+$/.test(n) || Number(n) > 31) throw new ConfigSyntaxError(source, v.MAKEDUMP_ARGS.line, col, "MAKEDUMP_ARGS: -d takes a dump level 0-31");
        c.dumpLevel = Number(n);
      } else if (w === "-c") c.codec = "zlib";
      else if (w === "-l") c.codec = "lzo";
      else if (w === "-p") c.codec = "snappy";
      else if (w === "-z") c.codec = "zstd";
      else if (w !== "-F") {
        warnings.push(`${source}:${v.MAKEDUMP_ARGS.line}: makedumpfile option ${w} is not supported: ignored`);
        if (words[k + 1] && !words[k + 1]![0].startsWith("-")) k++; // and its argument
      }
    }
  }
  if (v.NFS?.value) {
    const m = /^([^:\s]+):(\/\S*)$/.exec(v.NFS.value);
    if (!m) throw new ConfigSyntaxError(source, v.NFS.line, v.NFS.column, `NFS=${v.NFS.value}: server:/export expected`);
    c.target = { kind: "nfs", server: m[1]!, path: m[2]! };
  }
  if (v.SSH?.value) c.target = { kind: "ssh", host: v.SSH.value, path };
  if (v.SSH_KEY?.value) c.sshKey = v.SSH_KEY.value;
  if (v.KDUMP_NUM_DUMPS?.value) {
    if (!/^\d+$/.test(v.KDUMP_NUM_DUMPS.value)) throw new ConfigSyntaxError(source, v.KDUMP_NUM_DUMPS.line, v.KDUMP_NUM_DUMPS.column, "KDUMP_NUM_DUMPS: a number expected (0 keeps all)");
    c.keep = Number(v.KDUMP_NUM_DUMPS.value);
  }
  const append = (v.KDUMP_CMDLINE_APPEND?.value ?? DEBIAN_APPEND).split(/\s+/).filter(Boolean);
  // kdump-tools boots its own systemd unit; the toolkit's capture environment does not use it.
  c.cmdlineAdd = append.filter((w) => !w.startsWith("systemd.unit="));
  if (v.KDUMP_FAIL_CMD?.value) {
    if (/^\s*reboot\b/.test(v.KDUMP_FAIL_CMD.value)) c.failureAction = "reboot";
    else if (/\b(ba)?sh\b/.test(v.KDUMP_FAIL_CMD.value)) c.failureAction = "shell";
    else warnings.push(`${source}:${v.KDUMP_FAIL_CMD.line}: KDUMP_FAIL_CMD runs a command; the toolkit only knows failure actions (reboot, halt, poweroff, shell): using reboot`);
  }
  const used = new Set(["KDUMP_COREDIR", "MAKEDUMP_ARGS", "NFS", "SSH", "SSH_KEY", "KDUMP_NUM_DUMPS", "KDUMP_CMDLINE_APPEND", "KDUMP_FAIL_CMD"]);
  for (const [name, x] of Object.entries(v))
    if (!used.has(name) && !QUIET.has(name) && x.value !== "") warnings.push(`${source}:${x.line}: ${name} is not supported by this toolkit: ignored`);
  return { config: c, source, warnings };
}
