// Runbook: reserve crash memory in the boot loader (Debian/Ubuntu GRUB, Fedora/RHEL GRUB with BLS, systemd-boot).
// Run as root: `kdump recipes/setup-grub.ts [--dry-run] [--remove] [--size 256M] [--kernel K --initrd I] [--root DIR]`.
// --dry-run prints the diff and the commands and changes nothing; --root edits a system installed at DIR.
import { applyChanges, commandFor, commandLine, detectBootloader, estimate, formatRecommendation, parseSizeOption, planBoot, planDiff, planSummary, readStatus, textToBytes } from "kdump";

const root: string = argv.root ?? "";
const dryRun: boolean = argv["dry-run"] ?? false;

// 1. Find the boot loader from its configuration files.
const bootloader = detectBootloader(root);
echo(`boot loader: ${bootloader.kind} (${bootloader.evidence})`);

// 2. Decide the size: --size, else the best evidence (rehearsal minimum > capture-kernel estimate > distro table).
let args = argv.remove ? [] : argv.size ? parseSizeOption(String(argv.size)) : null;
if (args === null) {
  const r = estimate({ root, kernel: argv.kernel, initrd: argv.initrd });
  echo(formatRecommendation(r));
  if (!r.value) throw new Error("no crashkernel= size for this box: give --size");
  args = [r.value];
}

// 3. Plan the edit and show it as a unified diff (the files' own bytes, so non-UTF-8 bytes show as they are).
const plan = planBoot(args, root, bootloader);
echo(planSummary(plan));
process.stdout.write(textToBytes(planDiff(plan)));
for (const note of plan.notes) echo(`note: ${note}`);

// 4. On a dry run, stop here: show what would run.
if (dryRun) {
  for (const c of plan.commands) echo(`would run: ${commandLine(commandFor(plan, c))}`);
  echo("dry run: nothing was written");
  process.exit(0);
}

// 5. Write the files atomically; each old file stays beside it as FILE.kdump-bak.
for (const path of applyChanges(plan.changes, root)) echo(`wrote ${path}`);

// 6. Regenerate the boot menu (zx prints each command before it runs).
for (const c of plan.commands) await $`${commandFor(plan, c)}`;

// 7. The reservation exists only after a reboot; `kdump status` says "reboot needed" until then.
if (plan.preview.length) echo(root ? `done: boot the system at ${root} to use it` : `done: reboot, then check with \`kdump status\`\n${readStatus().pending ?? ""}`);
else echo("nothing to change");
