// The JavaScript engine options the capture init sets for Bun (JavaScriptCore reads BUN_JSC_* variables when it
// starts): the collector runs without JSC's top tier, the FTL JIT. Most of a capture's time is in native code
// (libzstd, liblzo2, libz, the kernel's copy of /proc/vmcore), and what JavaScript there is (the mem_map walk, the
// batch plans) is already fast in the DFG tier; FTL compiles cost CPU on a thread of their own, in a capture kernel
// of one or two CPUs where the compression workers need them, and their memory stays resident. Under qemu-x86_64
// on the 6.1 anon dump with two workers (lzo), a collect took 3.1 and 3.2 s with FTL off against 3.4 and 3.7 s with
// it, the JIT thread 0.6–0.7 s of CPU against 1.1–1.2 s; on the host the peak anonymous memory fell by 2–3 MiB. In
// one 64 GiB lab capture kernel (bench/scale.ts, 2026-12-02 18:03) the collector took 12.3 s without FTL against
// 19.5 s with it (lzo; CPU 18.0 against 31.0 s), 28.7 against 38.4 s (zlib), 15.3 and 22.7 against 20.6 s (zstd).
// A value already set (a user's, or a bench's) is kept. Bun refuses a BUN_JSC_ name it does not know, so the name
// is checked against the Bun this project runs (test/initramfs/engine_options.test.ts).

/** The variables and their values. */
export const ENGINE_OPTIONS: Record<string, string> = { BUN_JSC_useFTLJIT: "0" };

/**
 * The init's shell line: export each option unless the environment already sets it, for everything the init starts
 * after it (the pre hooks, the collector, the post hooks).
 * @example engineOptionsStep() // "export BUN_JSC_useFTLJIT=${BUN_JSC_useFTLJIT:-0}"
 */
export function engineOptionsStep(): string {
  return Object.entries(ENGINE_OPTIONS)
    .map(([k, v]) => `export ${k}=\${${k}:-${v}}`)
    .join("\n");
}
