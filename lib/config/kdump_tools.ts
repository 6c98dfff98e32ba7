// Debian/Ubuntu /etc/default/kdump-tools (kdump-tools' kdump-config sources it): shell assignments. Each variable
// kdump-tools documents becomes settings with its line, with kdump-tools' own defaults where it leaves one unset
// (MAKEDUMP_ARGS "-c -d 31"); a variable of the file with no equivalent here is a note, an FTP target an error.
import { FAILURE_ACTIONS } from "./actions.ts";
import { makedumpfileArgs } from "./makedumpfile_args.ts";
import { ConfigError, type Note } from "./origin.ts";
import { assign, type SettingAssignment, type FileSettings } from "./settings.ts";
import { shellVariables, words, type ShellValue } from "./shell_file.ts";

/** The file kdump-tools reads. */
export const KDUMP_TOOLS = "/etc/default/kdump-tools";

/** kdump-tools' own kernel link, made by kdump-config: the toolkit uses the running kernel's image instead. */
const KDUMP_TOOLS_KERNEL = "/var/lib/kdump/vmlinuz";
/** Variables of the file with no equivalent here, and why. */
const NO_MEANING: Record<string, string> = {
  KDUMP_INITRD: "the toolkit builds and loads its own capture initramfs",
  KDUMP_COMPRESSION: "the toolkit's capture initramfs is compressed with what the kernel accepts (zstd, else gzip)",
  KDUMP_KEXEC_ARGS: "the kexec syscall is chosen with `kdump load --syscall`",
  KDUMP_SYSCTL: "loading sets kernel.panic_on_oops=1 only",
  DEBUG_KERNEL: "not used by this toolkit",
};

/**
 * Reads /etc/default/kdump-tools text. Throws ConfigError (file:line, what to do) on a bad value.
 * @example readKdumpTools("KDUMP_NUM_DUMPS=2\n").assignments  // keep 2 (and kdump-tools' default -c -d 31)
 */
export function readKdumpTools(text: string, file = KDUMP_TOOLS): FileSettings {
  const v = shellVariables(text, file);
  const assignments: SettingAssignment[] = [];
  const notes: Note[] = [];
  const set = (name: string): ShellValue | null => (v[name]?.value ? v[name]! : null);
  const number = (name: string, max: number, hint: string): number | null => {
    const x = set(name);
    if (!x) return null;
    if (!/^\d+$/.test(x.value) || Number(x.value) > max) throw new ConfigError(x.at, `${name}=${x.value}: a number is expected`, hint);
    return Number(x.value);
  };

  const use = set("USE_KDUMP");
  if (use) {
    if (!/^[01]$/.test(use.value)) throw new ConfigError(use.at, `USE_KDUMP=${use.value}: 0 or 1 is expected`, "USE_KDUMP=1 arms kdump at boot, 0 does not");
    assignments.push(assign("enabled", use.value === "1", use.at));
  }
  const kernel = set("KDUMP_KERNEL");
  if (kernel && kernel.value !== KDUMP_TOOLS_KERNEL) assignments.push(assign("kernel", kernel.value, kernel.at));
  else if (kernel) notes.push({ ...kernel.at, text: `KDUMP_KERNEL=${KDUMP_TOOLS_KERNEL} is kdump-tools' own link: the running kernel's image is used` });

  const dir = set("KDUMP_COREDIR");
  const path = dir?.value ?? "/var/crash";
  if (dir && !path.startsWith("/")) throw new ConfigError(dir.at, `KDUMP_COREDIR=${path}: an absolute path is expected`, 'e.g. KDUMP_COREDIR="/var/crash"');
  const ssh = set("SSH");
  const nfs = set("NFS");
  const ftp = set("FTP");
  if (ftp) throw new ConfigError(ftp.at, "FTP: dumping to an FTP server is not supported", "use SSH or NFS, or a local KDUMP_COREDIR");
  if (ssh && nfs) throw new ConfigError(nfs.at, `NFS and SSH (line ${ssh.at.line}) are both set: one dump target is expected`, "keep one of them");
  if (ssh) {
    if (!/^\S+@\S+$|^[^\s@]+$/.test(ssh.value)) throw new ConfigError(ssh.at, `SSH=${ssh.value}: user@host is expected`, 'e.g. SSH="kdump@vault.example"');
    assignments.push(assign("target", { kind: "ssh", dest: ssh.value, port: null, path }, ssh.at));
  } else if (nfs) {
    const m = /^([^:\s]+):(\/\S*)$/.exec(nfs.value);
    if (!m) throw new ConfigError(nfs.at, `NFS=${nfs.value}: server:/export is expected`, 'e.g. NFS="nfs.example:/export/crash"');
    assignments.push(assign("target", { kind: "nfs", server: m[1]!, export: m[2]!, sub: "/" }, nfs.at));
  } else if (dir) assignments.push(assign("target", { kind: "dir", path }, dir.at));
  const key = set("SSH_KEY");
  if (key) assignments.push(assign("sshKey", key.value, key.at));
  const timeo = number("NFS_TIMEO", 1e6, 'NFS_TIMEO is in tenths of a second, e.g. NFS_TIMEO="600"');
  if (timeo !== null) assignments.push(assign("nfsTimeo", timeo, v.NFS_TIMEO!.at));
  const netTimeout = number("KDUMP_NET_TIMEOUT", 3600, 'seconds the capture waits for the network target, e.g. KDUMP_NET_TIMEOUT="90"');
  if (netTimeout !== null) assignments.push(assign("netTimeout", netTimeout, v.KDUMP_NET_TIMEOUT!.at));
  const retrans = number("NFS_RETRANS", 1000, 'e.g. NFS_RETRANS="3"');
  if (retrans !== null) assignments.push(assign("nfsRetrans", retrans, v.NFS_RETRANS!.at));
  const wait = number("KDUMP_DEVICE_TIMEOUT", 3600, 'seconds the capture waits for its disks, e.g. KDUMP_DEVICE_TIMEOUT="90"');
  if (wait !== null) assignments.push(assign("deviceTimeout", wait, v.KDUMP_DEVICE_TIMEOUT!.at));

  const mk = set("MAKEDUMP_ARGS");
  const r = makedumpfileArgs(words(mk?.value ?? "-c -d 31"), mk?.at ?? { file, line: 0 }, "MAKEDUMP_ARGS");
  assignments.push(...r.assignments);
  notes.push(...r.notes);
  const dmesg = set("KDUMP_DUMP_DMESG");
  if (dmesg) {
    if (!/^[01]$/.test(dmesg.value)) throw new ConfigError(dmesg.at, `KDUMP_DUMP_DMESG=${dmesg.value}: 0 or 1 is expected`, "1 saves the kernel log beside the dump");
    assignments.push(assign("dmesg", dmesg.value === "1", dmesg.at));
  }
  const keep = number("KDUMP_NUM_DUMPS", 1e6, "KDUMP_NUM_DUMPS is how many dumps to keep (0 or empty: all)");
  if (keep !== null) assignments.push(assign("keep", keep, v.KDUMP_NUM_DUMPS!.at));
  const fail = set("KDUMP_FAIL_CMD");
  if (fail) {
    const w = words(fail.value)[0]!.replace(/^.*\//, "");
    const action = ({ reboot: "reboot", halt: "halt", poweroff: "poweroff", sh: "shell", bash: "shell", ash: "shell", dash: "shell" } as const)[w as "reboot"];
    if (!action)
      throw new ConfigError(fail.at, `KDUMP_FAIL_CMD=${fail.value}: the toolkit runs failure actions, not commands`, `start it with one of reboot, halt, poweroff or sh (a shell); kdump.conf's failure_action names: ${FAILURE_ACTIONS.join(", ")}`);
    assignments.push(assign("failureAction", action, fail.at));
  }

  const line = set("KDUMP_CMDLINE");
  if (line) assignments.push(assign("cmdline", line.value, line.at));
  const add = set("KDUMP_CMDLINE_APPEND");
  if (add) {
    const unit = words(add.value).filter((w) => w.startsWith("systemd.unit="));
    if (unit.length) notes.push({ ...add.at, text: `KDUMP_CMDLINE_APPEND: ${unit.join(" ")} starts kdump-tools' own unit; the toolkit's capture init does not use it: left out` });
    assignments.push(assign("cmdlineAppend", words(add.value).filter((w) => !w.startsWith("systemd.unit=")), add.at));
  }
  const tag = set("HOSTTAG");
  if (tag) {
    if (tag.value !== "hostname" && tag.value !== "ip") throw new ConfigError(tag.at, `HOSTTAG=${tag.value}: hostname or ip is expected`, 'e.g. HOSTTAG="hostname"');
    assignments.push(assign("hostTag", tag.value, tag.at));
  }

  const known = /^(USE_KDUMP|KDUMP_KERNEL|KDUMP_COREDIR|SSH|SSH_KEY|NFS|NFS_TIMEO|NFS_RETRANS|MAKEDUMP_ARGS|KDUMP_DUMP_DMESG|KDUMP_NUM_DUMPS|KDUMP_FAIL_CMD|KDUMP_CMDLINE|KDUMP_CMDLINE_APPEND|HOSTTAG|FTP|KDUMP_DEVICE_TIMEOUT|KDUMP_NET_TIMEOUT)$/;
  for (const [name, x] of Object.entries(v))
    if (!x.value || known.test(name)) continue;
    else if (NO_MEANING[name]) notes.push({ ...x.at, text: `${name}: ${NO_MEANING[name]}: ignored` });
    else if (/^FTP_/.test(name)) notes.push({ ...x.at, text: `${name}: FTP targets are not supported: ignored` });
    else notes.push({ ...x.at, text: `${name} is not a setting kdump-tools or this toolkit reads: ignored` });
  return { file, assignments, notes };
}
