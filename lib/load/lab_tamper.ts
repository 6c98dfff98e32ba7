// Test-only: KDUMP_LAB_TAMPER_SEGMENT=<segment name> makes `kdump load`'s kexec_load path flip the last byte of that
// segment after the purgatory's SHA-256 was computed and before the kernel copies it, so a lab guest can show the
// purgatory refusing a corrupted capture image. Refused outside a lab guest (no /run/lab/job.sh, which the lab's
// boot initramfs writes): on a real host a tampered image would just be a capture that never boots.
import { existsSync } from "node:fs";
import { UsageError } from "../errors.ts";
import type { CrashImage } from "../arch/x86_64/crash_image.ts";

/** The environment variable naming the segment to corrupt. */
export const LAB_TAMPER_ENV = "KDUMP_LAB_TAMPER_SEGMENT";
/** Present only inside a lab guest (lib/lab/rootfs.ts: the job the boot initramfs copies there). */
export const LAB_MARKER = "/run/lab/job.sh";

/**
 * `plan` unchanged when the variable is unset; else a copy whose named segment has its last data byte inverted.
 * Throws UsageError outside a lab guest, for the purgatory itself (it is not checked) or an unknown segment.
 * @example labTamper(plan, { KDUMP_LAB_TAMPER_SEGMENT: "elfcorehdr" }).segments // elfcorehdr's last byte ^ 0xff
 */
export function labTamper(plan: CrashImage, env: Record<string, string | undefined> = process.env, root = ""): CrashImage {
  const name = env[LAB_TAMPER_ENV];
  if (!name) return plan;
  if (!existsSync(`${root}${LAB_MARKER}`))
    throw new UsageError(`${LAB_TAMPER_ENV} is a test switch for lab guests only (no ${LAB_MARKER} here)`, { hint: `unset ${LAB_TAMPER_ENV}` });
  const names = plan.segments.filter((s) => s.name !== "purgatory" && s.data.length > 0).map((s) => s.name);
  if (!names.includes(name)) throw new UsageError(`${LAB_TAMPER_ENV}=${name} names no segment the purgatory checks`, { hint: `one of ${names.join(", ")}` });
  const segments = plan.segments.map((s) => {
    if (s.name !== name) return s;
    const data = s.data.slice();
    data[data.length - 1]! ^= 0xff;
    return { ...s, data };
  });
  process.stderr.write(`kdump: lab: ${LAB_TAMPER_ENV}: inverted the last byte of the ${name} segment after its SHA-256 was taken\n`);
  return { ...plan, segments };
}
