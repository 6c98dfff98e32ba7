// The capture initramfs's /init (busybox sh): mount the API filesystems, load the target's modules, mount the
// crashed system's root (kdump.root= on the command line), run the pre hooks, run the collector from the root in a
// chroot (Bun stays on disk, not in the reservation), fall back to a busybox copy if that fails, run the post hooks
// with the exit status, save the capture's own log (kexec-dmesg.log) beside the dump, then the final action (or
// the failure action when nothing was saved). The config (lib/config/) is fixed into the script when the
// initramfs is built, so a config change changes the image's hash. Any kernel with devtmpfs.
import type { FailureAction, FinalAction } from "../config/actions.ts";
import { dirname, join } from "node:path";
import { engineOptionsStep } from "./engine_options.ts";
import { glibcTunablesStep } from "./glibc_tunables.ts";

/** What the capture init needs to know, fixed when the initramfs is built. */
export interface CaptureInitConfig {
  /** Module file names under /lib/modules in the initramfs, in load order (plain .ko). */
  modules: string[];
  /** Directory on the crashed root filesystem that receives `<host>-<stamp>/vmcore`. */
  target: string;
  /** The Bun runtime, as a path on the crashed root filesystem. */
  bun: string;
  /** kdump.ts, as a path on the crashed root filesystem. */
  kdump: string;
  /** Seconds to wait for the root device to appear. */
  rootWaitSeconds: number;
  /** Arguments after `kdump collect` (default: none, so the collector's defaults: kdump format, -d 31, zstd). */
  collectArgs?: string[];
  /**
   * Least MemAvailable (KiB) with which the Bun collector runs; below it the busybox copy saves the dump, since
   * Bun thrashes rather than fails when short of memory. `kdump.collector_min_kb=` on the command line overrides it.
   */
  collectorMinKiB?: number;
  /** Programs run (on the crashed root, in a chroot) before the dump; one exiting non-zero skips the dump. */
  preHooks?: string[];
  /** Programs run after the dump, with $1 = 0 when it was saved, else the collector's exit status. */
  postHooks?: string[];
  /**
   * Shell text defining storage_up (md arrays and logical volumes, before the root is looked for), target_up (the
   * dump target's own filesystem, mounted after the root) and target_down (lib/initramfs/storage.ts); none: no-ops.
   */
  storage?: string;
  /**
   * The root is locked (LUKS): instead of mounting it, /init runs root_up and, at the end, runtime_down, both from
   * `storage` (lib/initramfs/target_runtime.ts: the runtime staged on the dump target becomes /sysroot).
   */
  runtimeOnTarget?: boolean;
  /** When nothing could be saved (default reboot). */
  failureAction?: FailureAction;
  /** After the dump was saved, or skipped by a pre hook (default reboot). */
  finalAction?: FinalAction;
  /** A network target (remote_target.ts): its shell, run once the root is mounted; ssh replaces the local save. */
  remote?: { setup: string; up: string; save: string | null; target: string | null };
}

/**
 * Default collectorMinKiB. In the lab (1 GiB guests, 2026-11-23, forced with kdump.collector_min_kb=0) the default
 * collector (kdump format, -d 31, zstd) saved the dump with 55.7 MiB available on 6.1 (crashkernel=112M, 67 s) and
 * 47.7 MiB on 6.12 (112M, 100 s: 4–7× slower than at 256M, from paging Bun in), and was OOM-killed after 4–5
 * minutes of thrashing with 39.8 MiB (6.1, 96M) and 33.8 MiB (6.12, 96M), after which the init copied with dd.
 * (The unfiltered ELF copy it replaced needed ~60 MiB.) Below 46 MiB busybox dd copies /proc/vmcore whole at once.
 * Measure again with `bun bench/collector_memory.ts 6.1 112M 96M`.
 */
export const COLLECTOR_MIN_KIB = 47104;

/** Words the console shows; the lab tests look for them. */
export const CAPTURE_LOG = "kdump-capture:";

const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Mounting the crashed system's root at /sysroot (kdump.root= on the command line). */
const ROOT_STEP = (rootWaitSeconds: number) => `root=; fstype=; flags=
for w in $(cat /proc/cmdline); do
  case "$w" in
    kdump.root=*) root="\${w#kdump.root=}" ;;
    kdump.rootfstype=*) fstype="\${w#kdump.rootfstype=}" ;;
    kdump.rootflags=*) flags="\${w#kdump.rootflags=}" ;;
    kdump.collector_min_kb=*) MIN_KB="\${w#kdump.collector_min_kb=}" ;;
  esac
done
[ -n "$root" ] || { log "no kdump.root= on the command line: cannot find the root filesystem"; failed; }
dev=; i=0
while [ $i -lt ${rootWaitSeconds * 10} ]; do
  case "$root" in
    /dev/*) [ -b "$root" ] && dev="$root" ;;
    *=*) dev=$(findfs "$root" 2>/dev/null) ;;
  esac
  [ -n "$dev" ] && break
  sleep 0.1; i=$((i+1))
done
[ -n "$dev" ] || { log "root device $root did not appear"; failed; }
mkdir -p /sysroot
opts=rw; [ -n "$flags" ] && opts="rw,$flags"
if [ -n "$fstype" ]; then mount -t "$fstype" -o "$opts" "$dev" /sysroot; else mount -o "$opts" "$dev" /sysroot; fi || { log "cannot mount $dev"; failed; }
log "root $dev mounted"
`;

/**
 * The capture's entry beside `kdump` (a checkout's or an installation's kdump.ts): lib/collect/main.ts, which loads
 * the collector alone (under TCG 1.8 s to start against kdump.ts's 3.1 s). Anything else (a compiled kdump) runs itself.
 */
export function collectorEntry(kdump: string): string {
  return kdump.endsWith(".ts") ? join(dirname(kdump), "lib", "collect", "main.ts") : kdump;
}

/**
 * The /init script text.
 * @example captureInit({ modules: ["virtio_blk.ko"], target: "/var/crash", bun: "/usr/local/bin/bun", kdump: "/opt/kdump/kdump.ts", rootWaitSeconds: 30 })
 */
export function captureInit(c: CaptureInitConfig): string {
  return `#!/bin/sh
# kdump capture init, generated by the kdump toolkit (lib/initramfs/init.ts). Saves /proc/vmcore, then the final action.
export PATH=/bin HOME=/
TARGET=${sh(c.remote?.target ?? c.target)}
COLLECT_ARGS=${sh((c.collectArgs ?? []).join(" "))}
MIN_KB=${c.collectorMinKiB ?? COLLECTOR_MIN_KIB}
BUN=${sh(c.bun)}
KDUMP=${sh(c.kdump)}
COLLECTOR=${sh(collectorEntry(c.kdump))}
MODULES=${sh(c.modules.join(" "))}
PRE_HOOKS=${sh((c.preHooks ?? []).join(" "))}
POST_HOOKS=${sh((c.postHooks ?? []).join(" "))}
FAILURE_ACTION=${c.failureAction ?? "reboot"}
FINAL_ACTION=${c.finalAction ?? "reboot"}
log() { echo "${CAPTURE_LOG} $*"; echo "${CAPTURE_LOG} $*" >> /tmp/capture.log; }
# The capture's own log (its kernel's messages, then this script's) beside the newest dump folder made by this boot.
save_log() {
  d=$(find "/sysroot$TARGET" -mindepth 1 -maxdepth 1 -type d -newer /tmp/start 2>/dev/null | sort | tail -n 1)
  [ -n "$d" ] || return
  { dmesg; echo; cat /tmp/capture.log; } > "$d/kexec-dmesg.log" 2>/dev/null && log "capture log saved as \${d#/sysroot}/kexec-dmesg.log"
}
${c.storage ?? "storage_up() { :; }\ntarget_up() { :; }\ntarget_down() { :; }\n"}act() {
  sync; target_down; umount /sysroot/tmp /sysroot/dev /sysroot/sys /sysroot/proc 2>/dev/null; umount /sysroot 2>/dev/null;${c.runtimeOnTarget ? " runtime_down;" : ""} sync
  case "$1" in
    halt) log "halting"; halt -f ;;
    poweroff) log "powering off"; poweroff -f ;;
    *) log "rebooting"; reboot -f ;;
  esac
  sleep 30
}
# Saving failed: the failure action, then (after a shell or a copy to the root filesystem) the final action.
failed() {
  log "failure action: $FAILURE_ACTION"
  case "$FAILURE_ACTION" in
    shell)
      log "starting a shell on the console; exit it to continue"
      PS1="kdump-shell# " sh -i </dev/console >/dev/console 2>&1
      act "$FINAL_ACTION" ;;
    dump_to_rootfs)
      grep -q " /sysroot " /proc/mounts && copy /var/crash
      act "$FINAL_ACTION" ;;
    *) act "$FAILURE_ACTION" ;;
  esac
}
# The busybox copy of /proc/vmcore, whole, into $1 on the root filesystem.
copy() {
  host=$(head -n1 /sysroot/etc/hostname 2>/dev/null); [ -n "$host" ] || host=localhost
  dir="/sysroot$1/$host-$(date +%Y-%m-%d-%H:%M:%S)"
  (umask 077; mkdir -p "$dir" && dd if=/proc/vmcore of="$dir/vmcore-incomplete" bs=1M conv=fsync && mv "$dir/vmcore-incomplete" "$dir/vmcore") || return 1
  sync; log "saved \${dir#/sysroot}/vmcore by busybox dd"
}
${c.remote?.setup ?? ""}mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
: > /tmp/start
[ -e /proc/vmcore ] || { log "no /proc/vmcore: this is not a capture boot"; act reboot; }
avail=$(sed -n 's/^MemAvailable: *//p' /proc/meminfo); avail=\${avail% kB}
log "capture kernel $(uname -r) up, $(sed -n 's/^MemTotal: *//p' /proc/meminfo) of memory, $avail kB available"
for m in $MODULES; do insmod /lib/modules/$m || log "insmod $m failed"; done
storage_up || failed
${c.runtimeOnTarget ? `for w in $(cat /proc/cmdline); do case "$w" in kdump.collector_min_kb=*) MIN_KB="\${w#kdump.collector_min_kb=}" ;; esac; done
root_up || failed
` : ROOT_STEP(c.rootWaitSeconds)}mount -o bind /proc /sysroot/proc && mount -o bind /sys /sysroot/sys && mount -o bind /dev /sysroot/dev
mount -t tmpfs -o size=16m tmpfs /sysroot/tmp 2>/dev/null
target_up || failed
# on AMD CPUs, memset and memcpy without rep stosb/movsb, as glibc 2.43 chooses there: TCG emulates them a byte at
# a time, and the codecs clear a table per page (glibc_tunables.ts)
${glibcTunablesStep()}
# Bun without the FTL JIT: its compiles cost a capture kernel's scarce CPU and memory (engine_options.ts)
${engineOptionsStep()}
${c.remote?.up ?? ""}for h in $PRE_HOOKS; do
  chroot /sysroot "$h"; rc=$?
  log "pre hook $h exited $rc"
  [ $rc -eq 0 ] || { log "the dump is skipped: a pre hook failed"; save_log; act "$FINAL_ACTION"; }
done
# A generous limit (5 minutes plus 1 s per 2 MiB of dump) so a collector that stalls still leaves time to copy.
limit=$((300 + $(stat -c %s /proc/vmcore) / 2097152))
# the collector's own entry starts faster than kdump.ts (lib/collect/main.ts); an older toolkit without it: kdump.ts
[ -e "/sysroot$COLLECTOR" ] || COLLECTOR=$KDUMP
saved=; status=1
${c.remote?.save ?? `if [ "$avail" -lt "$MIN_KB" ]; then
  log "$avail kB available is below $MIN_KB kB for the collector: copying with busybox dd"
else
  timeout -s KILL $limit chroot /sysroot "$BUN" "$COLLECTOR" collect --from /proc/vmcore --out "$TARGET" $COLLECT_ARGS; status=$?
  if [ $status -eq 0 ]; then saved=1; log "saved by the collector"; else log "collector failed ($status): copying with busybox dd"; fi
fi
[ -n "$saved" ] || { copy "$TARGET" && saved=1; }`}
[ -n "$saved" ] && status=0
for h in $POST_HOOKS; do chroot /sysroot "$h" $status; log "post hook $h $status exited $?"; done
save_log
[ -n "$saved" ] && act "$FINAL_ACTION"
log "saving the dump failed"
failed
`;
}
