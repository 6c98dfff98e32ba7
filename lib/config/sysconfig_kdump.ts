// Fedora/RHEL /etc/sysconfig/kdump (kdump-utils' kdumpctl sources it): the capture kernel and its command line.
// KDUMP_COMMANDLINE replaces the derived line; _APPEND and _REMOVE edit it; KDUMP_KERNELVER picks the kernel
// (with KDUMP_BOOTDIR, KDUMP_IMG, KDUMP_IMG_EXT); KEXEC_ARGS picks the kexec syscall.
import { ConfigError, type Note } from "./origin.ts";
import { assign, type SettingAssignment, type FileSettings } from "./settings.ts";
import { shellVariables, words } from "./shell_file.ts";

/** The file kdumpctl sources. */
export const SYSCONFIG_KDUMP = "/etc/sysconfig/kdump";

/** Variables read only to build another one's value, or with no meaning on this architecture. */
const NO_MEANING: Record<string, string> = {
  FADUMP_COMMANDLINE_APPEND: "firmware-assisted dump is POWER only: ignored",
  MKDUMPRD_ARGS: "the toolkit builds its own capture initramfs, not with mkdumprd: ignored",
  KDUMP_STDLOGLVL: "the capture logs to the console and kexec-dmesg.log: ignored",
  KDUMP_SYSLOGLVL: "the capture logs to the console and kexec-dmesg.log: ignored",
  KDUMP_KMSGLOGLVL: "the capture logs to the console and kexec-dmesg.log: ignored",
};

/**
 * Reads /etc/sysconfig/kdump text.
 * @example readSysconfigKdump('KEXEC_ARGS="-s"\n').assignments  // syscall "file"
 */
export function readSysconfigKdump(text: string, file = SYSCONFIG_KDUMP): FileSettings {
  const v = shellVariables(text, file);
  const assignments: SettingAssignment[] = [];
  const notes: Note[] = [];
  const set = (name: string) => (v[name]?.value ? v[name] : null);
  const line = set("KDUMP_COMMANDLINE");
  if (line) assignments.push(assign("cmdline", line.value, line.at));
  const add = set("KDUMP_COMMANDLINE_APPEND");
  if (add) assignments.push(assign("cmdlineAppend", words(add.value), add.at));
  const rm = set("KDUMP_COMMANDLINE_REMOVE");
  if (rm) assignments.push(assign("cmdlineRemove", words(rm.value).map((w) => w.replace(/=.*/, "")), rm.at));
  const ver = set("KDUMP_KERNELVER");
  if (ver) {
    const dir = set("KDUMP_BOOTDIR")?.value ?? "/boot";
    const img = set("KDUMP_IMG")?.value ?? "vmlinuz";
    assignments.push(assign("kernel", `${dir}/${img}-${ver.value}${set("KDUMP_IMG_EXT")?.value ?? ""}`, ver.at));
  }
  const kexec = set("KEXEC_ARGS");
  if (kexec)
    for (const w of words(kexec.value)) {
      if (w === "-s" || w === "--kexec-file-syscall") assignments.push(assign("syscall", "file", kexec.at));
      else if (w === "-c" || w === "--kexec-syscall") assignments.push(assign("syscall", "load", kexec.at));
      else if (w === "--kexec-syscall-auto") assignments.push(assign("syscall", "auto", kexec.at));
      else if (w === "-d" || w === "--debug") notes.push({ ...kexec.at, text: `KEXEC_ARGS: ${w} (kexec's debug output) has no meaning here: ignored` });
      else throw new ConfigError(kexec.at, `KEXEC_ARGS: kexec option ${w} is not supported`, "the toolkit reads -s (kexec_file_load), -c (kexec_load), --kexec-syscall-auto and -d; remove it");
    }
  const wait = set("KDUMP_DEVICE_TIMEOUT");
  if (wait) {
    if (!/^\d+$/.test(wait.value) || Number(wait.value) > 3600) throw new ConfigError(wait.at, `KDUMP_DEVICE_TIMEOUT=${wait.value}: a number of seconds (at most 3600) is expected`, 'e.g. KDUMP_DEVICE_TIMEOUT="90"');
    assignments.push(assign("deviceTimeout", Number(wait.value), wait.at));
  }
  for (const [name, x] of Object.entries(v)) {
    if (NO_MEANING[name] && x.value) notes.push({ ...x.at, text: `${name}: ${NO_MEANING[name]}` });
    else if (!/^(KDUMP_COMMANDLINE(_APPEND|_REMOVE)?|KDUMP_KERNELVER|KDUMP_BOOTDIR|KDUMP_IMG|KDUMP_IMG_EXT|KEXEC_ARGS|KDUMP_DEVICE_TIMEOUT)$/.test(name) && !NO_MEANING[name])
      notes.push({ ...x.at, text: `${name} is not a setting kdump-utils or this toolkit reads: ignored` });
  }
  return { file, assignments, notes };
}
