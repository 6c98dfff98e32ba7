// The glibc tunables the capture init sets on AMD x86 CPUs: memset and memcpy by vector stores, never by `rep stosb`
// or `rep movsb`. Debian 12's glibc 2.36 clears 2 KiB or more with `rep stosb` and copies 8 KiB or more with
// `rep movsb` on any x86 CPU that has them; glibc 2.43 (Debian sid's, the one makedumpfile 1.7.8 runs with in the
// lab) no longer does on AMD CPUs (`ld.so --list-diagnostics`: its rep_stosb_threshold is SIZE_MAX there, its
// rep_movsb_threshold the non-temporal threshold). The collector clears a table for every page (liblzo2's LZO1X-1
// its 32 KiB dictionary, zlib's deflateReset its 64 KiB hash heads) and copies pages out of /proc/vmcore's mapping.
// QEMU's TCG emulates both string instructions about a byte at a time, and its `-cpu max` is an AMD CPU. Under
// qemu-x86_64 on the 6.1 anon dump at -d 1, our inline lzo compression took 6.6 s with glibc 2.36's thresholds and
// 1.3 s without rep stosb (zlib 40.3 s and 30.5 s; zstd, which clears no table, 5.3 s either way); a 64 KiB
// memcpy took 2.1 ms/MiB with rep movsb and 0.6 without. On the host (an AMD EPYC) the collect took the same time.
// Unknown tunables are ignored, so the setting is harmless on glibc without them and on other architectures.

/** The GLIBC_TUNABLES value: rep stosb and rep movsb never, as glibc 2.43 chooses on AMD CPUs. */
export const NO_REP_STRING_OPS = "glibc.cpu.x86_rep_stosb_threshold=0xffffffffffffffff:glibc.cpu.x86_rep_movsb_threshold=0xffffffffffffffff";

/**
 * The init's shell line: on an AMD CPU, export GLIBC_TUNABLES (added to any value already there) for everything
 * the init starts after it (the pre hooks, the collector, the post hooks).
 * @example glibcTunablesStep() // "grep -q '^vendor_id.*AuthenticAMD' /proc/cpuinfo && export GLIBC_TUNABLES=…"
 */
export function glibcTunablesStep(): string {
  return `grep -q '^vendor_id.*AuthenticAMD' /proc/cpuinfo 2>/dev/null && export GLIBC_TUNABLES=\${GLIBC_TUNABLES:+$GLIBC_TUNABLES:}${NO_REP_STRING_OPS}`;
}
