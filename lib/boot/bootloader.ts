// The boot loader of a box, detected from its files, behind one interface: what crashkernel= it passes now,
// a plan to make it pass another value (file changes shown as a unified diff, commands to run after), and
// applying that plan atomically. Debian/Ubuntu GRUB, Fedora/RHEL GRUB with BLS entries (grubby), systemd-boot.
import { KdumpError } from "../errors.ts";
import { boxExists, listBoxDir, readBoxBytes } from "./box_file.ts";
import { blsCrashkernel, grubbyCommand, planBlsEntries, readBlsEntries } from "./bls.ts";
import { type CrashkernelArg, formatCrashkernel } from "./crashkernel.ts";
import { applyChanges, changesDiff, type FileChange } from "./file_change.ts";
import { grubCrashkernel, grubRegenerateCommand, planGrubDefaults, readGrubDefaults, type PlacedCrashkernel } from "./grub.ts";
import { KERNEL_CMDLINE, kernelCmdlineCrashkernel, planKernelCmdline, readKernelCmdline } from "./kernel_cmdline.ts";

/** Which boot loader setup edits. */
export type BootloaderKind = "grub" | "grub-bls" | "systemd-boot";

/** A detected boot loader. */
export interface Bootloader {
  /** grub: /etc/default/grub + update-grub; grub-bls: BLS entries + grubby; systemd-boot: entries + /etc/kernel/cmdline. */
  kind: BootloaderKind;
  /** Why this one was chosen (the files found). */
  evidence: string;
}

/** What setup will do. */
export interface BootPlan {
  /** The boot loader. */
  bootloader: Bootloader;
  /** The box's root ("" for this box). */
  root: string;
  /** The crashkernel= words wanted; empty for --remove. */
  args: CrashkernelArg[];
  /** Files setup writes itself. */
  changes: FileChange[];
  /** Commands run after the writes (under `chroot root` when root is not ""). */
  commands: string[][];
  /** Every file change the plan makes, the commands' own included: what --dry-run shows. */
  preview: FileChange[];
  /** Things the user should know (a UKI that embeds its command line, a missing grub-mkconfig). */
  notes: string[];
}

const anyOf = (root: string, paths: string[]) => paths.some((p) => boxExists(root, p));
const LOADER_CONF = ["/boot/loader/loader.conf", "/efi/loader/loader.conf", "/boot/efi/loader/loader.conf"];
const GRUBBY = ["/usr/sbin/grubby", "/usr/bin/grubby", "/sbin/grubby"];

/** Detects the boot loader of the box under `root` from its configuration files. */
export function detectBootloader(root = ""): Bootloader {
  const loaderConf = LOADER_CONF.find((p) => boxExists(root, p));
  if (loaderConf) return { kind: "systemd-boot", evidence: `${loaderConf} exists` };
  const entries = readBlsEntries(root, ["/boot/loader/entries"]);
  const grubby = GRUBBY.find((p) => boxExists(root, p));
  const bls = /^[ \t]*GRUB_ENABLE_BLSCFG=["']?true/m.test(readBoxBytes(root, "/etc/default/grub") ?? "");
  if (entries.length && (grubby || bls))
    return { kind: "grub-bls", evidence: `${entries.length} entries in /boot/loader/entries${grubby ? `, ${grubby}` : ", GRUB_ENABLE_BLSCFG=true"}` };
  if (boxExists(root, "/etc/default/grub")) return { kind: "grub", evidence: "/etc/default/grub exists" };
  throw new KdumpError(`no supported boot loader found${root ? ` under ${root}` : ""}`, {
    hint: "setup knows GRUB (/etc/default/grub), GRUB with BLS entries (/boot/loader/entries) and systemd-boot (loader/loader.conf); add crashkernel= to your boot loader's kernel command line by hand",
  });
}

/** The crashkernel= words the boot loader's configuration passes (in command-line order; the kernel uses the last). */
export function configuredCrashkernel(root = "", bootloader = detectBootloader(root)): PlacedCrashkernel[] {
  switch (bootloader.kind) {
    case "grub":
      return grubCrashkernel(readGrubDefaults(root));
    case "grub-bls":
    case "systemd-boot": {
      const entries = readBlsEntries(root, bootloader.kind === "grub-bls" ? ["/boot/loader/entries"] : undefined);
      // The newest kernel's entry (last by name) is what boots by default on a stock system.
      const entry = entries.filter((e) => !/rescue/.test(e.path)).at(-1) ?? entries.at(-1);
      if (entry) return blsCrashkernel(entry);
      const text = readKernelCmdline(root);
      return text === null ? [] : kernelCmdlineCrashkernel(text);
    }
  }
}

/** Plans the changes that make the boot loader pass exactly `args` (empty: remove crashkernel=). Nothing is written. */
export function planBoot(args: CrashkernelArg[], root = "", bootloader = detectBootloader(root)): BootPlan {
  const plan: BootPlan = { bootloader, root, args, changes: [], commands: [], preview: [], notes: [] };
  const procCmdline = readBoxBytes(root, "/proc/cmdline") ?? "";
  if (bootloader.kind === "grub") {
    plan.changes = planGrubDefaults(readGrubDefaults(root), args);
    const regen = grubRegenerateCommand(root);
    if (regen) plan.commands.push(regen);
    else plan.notes.push("no update-grub or grub-mkconfig found: regenerate grub.cfg yourself before rebooting");
  } else if (bootloader.kind === "grub-bls") {
    const entries = planBlsEntries(readBlsEntries(root, ["/boot/loader/entries"]), args);
    const own: FileChange[] = [];
    // New kernels take their command line from these, so they keep the setting too.
    if (boxExists(root, "/etc/default/grub")) own.push(...planGrubDefaults(readGrubDefaults(root), args));
    const kc = readKernelCmdline(root);
    if (kc !== null) own.push(...[planKernelCmdline(kc, args, procCmdline)].filter((c): c is FileChange => c !== null));
    const grubby = anyOf(root, GRUBBY);
    plan.changes = grubby ? own : [...own, ...entries];
    if (grubby && entries.length) plan.commands.push(grubbyCommand(args));
    plan.preview = [...own, ...entries];
    if (entries.some((c) => c.before?.includes("$kernelopts")))
      plan.notes.push("some entries use $kernelopts from grubenv (RHEL 8): the crashkernel= after it wins, but grubenv keeps its own copy");
  } else {
    const entries = planBlsEntries(readBlsEntries(root), args);
    const kc = planKernelCmdline(readKernelCmdline(root), args, procCmdline);
    plan.changes = [...(kc ? [kc] : []), ...entries];
    if (kc && kc.before === null) plan.notes.push(`${KERNEL_CMDLINE} did not exist: created from /proc/cmdline, as kernel-install would use it`);
    if (["/boot/EFI/Linux", "/efi/EFI/Linux", "/boot/efi/EFI/Linux"].some((d) => listBoxDir(root, d).some((f) => f.endsWith(".efi"))))
      plan.notes.push("unified kernel images (EFI/Linux/*.efi) embed their command line: rebuild them (kernel-install add) after this change");
  }
  if (!plan.preview.length) plan.preview = plan.changes;
  if (!plan.preview.length) plan.commands = []; // nothing changes: nothing to regenerate (a second run is a no-op)
  return plan;
}

/** The unified diff of everything the plan changes ("" when the boot loader already passes the value). */
export function planDiff(plan: BootPlan): string {
  return changesDiff(plan.preview);
}

/** One line per plan: what the boot loader will pass. */
export function planSummary(plan: BootPlan): string {
  const v = plan.args.map((a) => `crashkernel=${formatCrashkernel(a)}`).join(" ");
  if (!plan.preview.length) return `${plan.bootloader.kind}: already ${v ? `passes ${v}` : "passes no crashkernel="}: nothing to change`;
  return `${plan.bootloader.kind}: ${v ? `pass ${v}` : "remove crashkernel="} (${plan.preview.length} file${plan.preview.length === 1 ? "" : "s"})`;
}

/** The command line a plan command runs as on the box: under chroot when the root is not this box's. */
export function commandFor(plan: BootPlan, cmd: string[]): string[] {
  return plan.root === "" || plan.root === "/" ? cmd : ["chroot", plan.root, ...cmd];
}

/**
 * Applies a plan: writes its files atomically with FILE.kdump-bak backups (all or none), then runs its commands
 * through `run`, which prints each before running it. Returns the paths written.
 */
export async function applyBootPlan(plan: BootPlan, run: (cmd: string[]) => Promise<void>): Promise<string[]> {
  const written = applyChanges(plan.changes, plan.root);
  for (const c of plan.commands) await run(commandFor(plan, c));
  return written;
}
