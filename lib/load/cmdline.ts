// The capture kernel's command line: the running kernel's (/proc/cmdline) with what kdump-utils removes taken out
// and what it appends for the machine (x86_64, aarch64) added, root= handed to our capture init as kdump.root=, init=/rdinit= and init's
// own arguments (after "--") dropped so our /init runs, then the user's edits. Pure.

/** kdump-utils' KDUMP_COMMANDLINE_REMOVE for x86_64 (gen-kdump-sysconfig.sh). */
export const REMOVE_DEFAULT = ["hugepages", "hugepagesz", "slub_debug", "quiet", "log_buf_len", "swiotlb", "cma", "hugetlb_cma", "ignition.firstboot"];

/** What kdump-utils' prepare_cmdline always removes: the reservation, panic_on_warn, and root/storage set-up. */
export const REMOVE_ALWAYS = ["crashkernel", "panic_on_warn", "root", "rd.lvm.lv", "rd.luks.uuid", "rd.dm.uuid", "rd.md.uuid", "fcoe", "netroot", "rd.iscsi.initiator", "iscsi_initiator"];

/** kdump-utils' KDUMP_COMMANDLINE_APPEND for x86_64 (gen-kdump-sysconfig.sh). */
export const APPEND_DEFAULT = [
  "irqpoll", "nr_cpus=1", "reset_devices", "cgroup_disable=memory", "mce=off", "numa=off", "udev.children-max=2", "panic=10",
  "acpi_no_memhotplug", "transparent_hugepage=never", "nokaslr", "hest_disable", "novmcoredd", "cma=0", "hugetlb_cma=0",
  "pcie_ports=compat", "kfence.sample_interval=0", "initramfs_options=size=90%",
];

/**
 * kdump-utils' KDUMP_COMMANDLINE_APPEND for aarch64: none of x86's mce=, numa=, ACPI, HEST, THP, KASLR or PCIe port
 * options (an arm64 kernel warns about the ones it does not know), and swiotlb=noforce.
 */
export const APPEND_AARCH64 = [
  "irqpoll", "nr_cpus=1", "reset_devices", "cgroup_disable=memory", "udev.children-max=2", "panic=10", "swiotlb=noforce",
  "novmcoredd", "cma=0", "hugetlb_cma=0", "kfence.sample_interval=0", "initramfs_options=size=90%",
];

/** The appended defaults for a machine (uname -m); x86_64's for any other. */
export function appendDefaults(machine = "x86_64"): string[] {
  return machine === "aarch64" ? APPEND_AARCH64 : APPEND_DEFAULT;
}

/** Parameters our capture init reads: the crashed system's root, moved out of the kernel's way. */
const ROOT_PARAMS = ["root", "rootfstype", "rootflags"];

/** Parameters that would run another program than our /init (rdinit=, init=). */
const INIT_PARAMS = ["rdinit", "init"];

/** How to derive a capture command line. */
export interface CaptureCmdlineOptions {
  /** More parameters to remove (names; `foo` removes `foo` and `foo=…`). */
  remove?: string[];
  /** More parameters to append (whole words, `foo=bar`); they replace earlier ones of the same name. */
  append?: string[];
  /** root= to use when the command line has none (e.g. the device mounted at /). */
  root?: string;
  /** The boot CPU's APIC id: becomes disable_cpu_apicid= so the capture kernel never sends it INIT. */
  bootCpuApicId?: number;
  /** The machine (uname -m) whose kdump-utils defaults are appended (default x86_64). */
  machine?: string;
}

/**
 * Splits a kernel command line into words, keeping double-quoted values ("foo=\"a b\"") whole.
 * @example splitCmdline('a b="c d" e') // ["a", 'b="c d"', "e"]
 */
export function splitCmdline(line: string): string[] {
  return line.match(/(?:"[^"]*"?|[^\s"])+/g) ?? [];
}

/** A parameter's name with quotes dropped and `-` read as `_`, as the kernel compares them (parameq). */
export function paramName(word: string): string {
  const bare = word.replace(/"/g, "");
  const eq = bare.indexOf("=");
  return (eq < 0 ? bare : bare.slice(0, eq)).replace(/-/g, "_");
}

/** The value of the last `name=` parameter, without quotes, or undefined. */
export function paramValue(words: string[], name: string): string | undefined {
  const key = paramName(name);
  let value: string | undefined;
  for (const w of words) if (paramName(w) === key && w.includes("=")) value = w.slice(w.indexOf("=") + 1).replace(/"/g, "");
  return value;
}

/**
 * The capture kernel's command line derived from the running one. The user's `remove` also drops our defaults
 * (e.g. `nokaslr`); the user's `append` comes last.
 * @example captureCmdline("BOOT_IMAGE=/vmlinuz root=UUID=1 ro quiet crashkernel=256M") // "BOOT_IMAGE=/vmlinuz ro kdump.root=UUID=1 irqpoll nr_cpus=1 …"
 */
export function captureCmdline(running: string, o: CaptureCmdlineOptions = {}): string {
  const all = splitCmdline(running);
  const words = all.slice(0, endOfKernelParams(all)); // arguments after "--" are for the old init: dropped
  const userRemoved = new Set((o.remove ?? []).map(paramName));
  const ours = [
    ...ROOT_PARAMS.map((p) => [p, paramValue(words, p) ?? (p === "root" ? o.root : undefined)] as const)
      .filter(([, v]) => v !== undefined && v !== "")
      .map(([p, v]) => `kdump.${p}=${quote(v!)}`),
    ...appendDefaults(o.machine),
    ...(o.bootCpuApicId === undefined ? [] : [`disable_cpu_apicid=${o.bootCpuApicId}`]),
  ].filter((w) => !userRemoved.has(paramName(w)));
  return editCmdline(words.join(" "), { remove: [...REMOVE_DEFAULT, ...REMOVE_ALWAYS, ...ROOT_PARAMS, ...INIT_PARAMS, ...(o.remove ?? [])], append: [...ours, ...(o.append ?? [])] });
}

/** Index of the `--` that ends the kernel's parameters (the rest goes to init), or the word count. */
function endOfKernelParams(words: string[]): number {
  const i = words.indexOf("--");
  return i < 0 ? words.length : i;
}

/**
 * Removes parameters by name, then appends words; an appended word first removes earlier ones of its name,
 * so each parameter appears once. Words after `--` (init's arguments) are kept, after the appended ones.
 * Whitespace is normalized to single spaces.
 * @example editCmdline("a=1 b c -- x", { remove: ["b"], append: ["a=2"] }) // "c a=2 -- x"
 */
export function editCmdline(line: string, e: { remove?: string[]; append?: string[] }): string {
  const appended = e.append ?? [];
  const drop = new Set([...(e.remove ?? []), ...appended].map(paramName));
  const words = splitCmdline(line);
  const end = endOfKernelParams(words);
  const initArgs = words.slice(end);
  const kept = words.slice(0, end).filter((w) => !drop.has(paramName(w)));
  const out: string[] = [];
  for (const w of appended) {
    const i = out.findIndex((x) => paramName(x) === paramName(w));
    if (i >= 0) out.splice(i, 1);
    out.push(w);
  }
  return [...kept, ...out, ...initArgs].join(" ");
}

function quote(v: string): string {
  return /\s/.test(v) ? `"${v}"` : v;
}
