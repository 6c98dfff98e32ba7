// Places kexec_load segments one after another inside the crashkernel= reservation, each aligned, and refuses one
// that would end past it. Used by every architecture's capture-image layout (lib/arch/*/crash_image.ts).
import { UsageError } from "../errors.ts";
import type { CrashSegment } from "../arch/x86_64/crash_image.ts";

export const PAGE = 4096n;
export const alignUp = (x: bigint, a: bigint) => ((x + a - 1n) / a) * a;
/** `n` bytes rounded up to whole pages. */
export const pages = (n: number) => Number(alignUp(BigInt(n), PAGE));

/**
 * A cursor over the reservation [start, end]: `place()` puts a segment at the next address aligned to `align` and
 * returns that address; `next` is where the next one may start, and can be moved forward (an image that must sit
 * at a given offset). Throws UsageError when a segment would end past the reservation.
 * @example const p = segmentPlacer(crash); const at = p.place("kernel", image, pages(image.length)); p.segments
 */
export function segmentPlacer(crash: { start: bigint; end: bigint }) {
  const { start, end } = crash;
  const segments: CrashSegment[] = [];
  let next = start;
  return {
    segments,
    get next() {
      return next;
    },
    set next(at: bigint) {
      next = at;
    },
    place(name: string, data: Uint8Array, memsz: number, align = PAGE): bigint {
      const mem = alignUp(next, align);
      next = mem + BigInt(memsz);
      if (next - 1n > end)
        throw new UsageError(`the capture image does not fit the reservation: ${name} would end at 0x${(next - 1n).toString(16)}, the reservation ends at 0x${end.toString(16)} (${Number(end - start + 1n) / 1048576} MiB)`, {
          hint: "raise crashkernel= or use a smaller initramfs",
        });
      segments.push({ name, data, mem, memsz });
      return mem;
    },
  };
}
