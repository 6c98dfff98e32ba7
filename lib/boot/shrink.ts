// Shrinking the crash reservation without a reboot: writing a smaller size to /sys/kernel/kexec_crash_size hands
// the memory above it back to the kernel (any kernel with kexec; refused with ENOENT while a capture kernel is
// loaded). It cannot grow again until the next boot, so the verb asks for --yes.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RefusedError, UsageError } from "../errors.ts";
import { formatSize } from "./crashkernel.ts";

/** The reservation before and after. */
export interface ShrinkResult {
  /** Bytes reserved before. */
  before: number;
  /** Bytes reserved after (the kernel rounds to pages). */
  after: number;
}

/** Shrinks the reservation of the box under `root` ("" this one) to `size` bytes. Needs `yes`. */
export function shrinkReservation(size: number, o: { root?: string; yes?: boolean } = {}): ShrinkResult {
  const file = join(o.root ?? "", "/sys/kernel/kexec_crash_size");
  if (!existsSync(file)) throw new UsageError("/sys/kernel/kexec_crash_size not found", { hint: "this kernel has no kexec support" });
  const before = Number(readFileSync(file, "utf8").trim());
  if (before === 0) throw new UsageError("no crash memory is reserved", { hint: "reserve some with `kdump setup` and reboot" });
  if (size >= before) throw new UsageError(`the reservation is ${formatSize(before)}; it can only shrink, not grow to ${formatSize(size)}`, { hint: "to grow it, change crashkernel= with `kdump setup --size` and reboot" });
  const loaded = join(o.root ?? "", "/sys/kernel/kexec_crash_loaded");
  if (existsSync(loaded) && readFileSync(loaded, "utf8").trim() === "1")
    throw new RefusedError("a capture kernel is loaded and the kernel will not shrink its memory", { hint: "unload it (kexec -p -u), shrink, then load it again" });
  if (!o.yes)
    throw new RefusedError(`shrinking to ${formatSize(size)} gives ${formatSize(before - size)} back until the next boot`, { hint: "pass --yes to do it" });
  writeFileSync(file, String(size));
  return { before, after: Number(readFileSync(file, "utf8").trim()) };
}
