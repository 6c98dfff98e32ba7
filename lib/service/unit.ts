// The files `kdump enable` installs so the box arms itself: the systemd unit (after the local filesystems), the
// Debian kernel hooks (/etc/kernel/postinst.d, postrm.d) and a kernel-install plugin that prepare a new kernel's
// capture image, and a udev rule that re-arms on memory or CPU hotplug; and what to add where there is no systemd.
// They run lib/service/main.ts, the service verbs without the analysis stack.
import { dirname, join } from "node:path";

/** Our unit's name (kdump.service is kdump-utils'; kdump-tools.service is Debian's). */
export const UNIT_NAME = "kdump-toolkit.service";
/** Where it is installed. */
export const UNIT_PATH = `/etc/systemd/system/${UNIT_NAME}`;
/** The Debian kernel hooks (run-parts names: letters, digits, - and _ only). */
export const POSTINST_HOOK = "/etc/kernel/postinst.d/zz-kdump-toolkit";
export const POSTRM_HOOK = "/etc/kernel/postrm.d/zz-kdump-toolkit";
/** The kernel-install plugin (systemd's kernel-install, Fedora/RHEL/Arch). */
export const KERNEL_INSTALL_PLUGIN = "/etc/kernel/install.d/92-kdump-toolkit.install";
/** The udev rule. */
export const UDEV_RULE = "/etc/udev/rules.d/98-kdump-toolkit.rules";

/** How the installed files call the toolkit: this Bun and this checkout's kdump.ts. */
export interface Command {
  bun: string;
  kdump: string;
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The service verbs' own entry point beside kdump.ts (lib/service/main.ts): a shorter start at boot. */
export function serviceEntry(c: Command): string {
  return join(dirname(c.kdump), "lib", "service", "main.ts");
}

/**
 * The systemd unit: arms the box as soon as the local filesystems are mounted, beside (not after) the rest of
 * sysinit.target and basic.target (DefaultDependencies=no: loading a prepared image needs /proc, /sys and the root
 * filesystem, no device, socket or network). Before=multi-user.target: DefaultDependencies=no also drops the
 * ordering a target adds to what it wants, and the box should be armed before it is up (as kdump.service is).
 * stop unloads, and shutdown stops it.
 */
export function unitText(c: Command): string {
  const e = serviceEntry(c);
  return `# Installed by \`kdump enable\` (kdump toolkit); removed by \`kdump disable\`.
[Unit]
Description=kdump toolkit: load the capture kernel
DefaultDependencies=no
After=local-fs.target
Wants=local-fs.target
Before=multi-user.target
Conflicts=shutdown.target
Before=shutdown.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart="${c.bun}" "${e}" start --by-service
ExecReload="${c.bun}" "${e}" reload --by-service
ExecStop="${c.bun}" "${e}" stop

[Install]
WantedBy=multi-user.target
`;
}

/** /etc/kernel/postinst.d and postrm.d hook: prepares (or removes) the capture image of kernel $1. Never fails dpkg. */
export function kernelHookText(c: Command, remove: boolean): string {
  return `#!/bin/sh
# Installed by \`kdump enable\` (kdump toolkit): ${remove ? "forgets the capture image of a removed kernel" : "prepares the capture image of a newly installed kernel"}.
version="$1"
[ -n "$version" ] && [ -x ${q(c.bun)} ] || exit 0
${q(c.bun)} ${q(serviceEntry(c))} rebuild --release "$version"${remove ? " --remove" : ""} ||
  echo "kdump: could not ${remove ? "remove" : "prepare"} the capture image of $version: run 'kdump rebuild --release $version'" >&2
exit 0
`;
}

/** kernel-install plugin: COMMAND KERNEL_VERSION ENTRY_DIR KERNEL_IMAGE. */
export function kernelInstallText(c: Command): string {
  return `#!/bin/sh
# Installed by \`kdump enable\` (kdump toolkit): prepares or forgets a kernel's capture image.
case "$1" in
  add) ${q(c.bun)} ${q(serviceEntry(c))} rebuild --release "$2" || echo "kdump: could not prepare the capture image of $2" >&2 ;;
  remove) ${q(c.bun)} ${q(serviceEntry(c))} rebuild --release "$2" --remove ;;
esac
exit 0
`;
}

/**
 * udev rule: on CPU or memory hotplug, `kdump hotplug` re-arms unless the kernel updates the image itself. Not on
 * "add": the coldplug at every boot (systemd-udev-trigger) sends "add" for each CPU and memory block, which ran
 * `kdump hotplug` ~10 times beside the unit on a 1 GiB guest; a real hot-add is followed by "online".
 */
export function udevRuleText(c: Command): string {
  const run = `RUN+="${c.bun} ${serviceEntry(c)} hotplug"`;
  return `# Installed by \`kdump enable\` (kdump toolkit): the capture kernel's memory map lists CPUs and memory; re-arm when they change.
SUBSYSTEM=="cpu", ACTION=="remove|online|offline", ${run}
SUBSYSTEM=="memory", ACTION=="remove|online|offline", ${run}
`;
}

/** What to add to an init system that is not systemd. */
export function noSystemdText(c: Command): string {
  return `This box does not run systemd: add this line to your init system's boot script, to run after the local filesystems are mounted
(sysvinit: /etc/rc.local before "exit 0"; OpenRC: an executable /etc/local.d/kdump.start; runit/s6: a oneshot service):

  "${c.bun}" "${serviceEntry(c)}" start --by-service
`;
}
