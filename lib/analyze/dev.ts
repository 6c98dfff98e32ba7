// `dev -d` / `dev -D`: crash's disk I/O statistics, one line per whole disk (ram and loop disks left out, as crash
// does): major, gendisk, name, request queue and the requests in flight, read and write (lib/kernel/block.ts).
import { UsageError } from "../errors.ts";
import { readDisks, type DiskIo } from "../kernel/block.ts";
import type { AnalyzeCommand } from "./command.ts";
import { hex16, hexJson, parseFlags, typedKernel } from "./_typed.ts";

/** crash leaves out disks whose names start with these (dev.c skipped_disk_name). */
const SKIPPED = /^(ram|loop)/;

/**
 * crash's `dev -d` text. `syncNames`: the kernel still has BLK_RW_SYNC (before 5.18), so crash heads the two
 * counts ASYNC and SYNC instead of READ and WRITE.
 */
export function formatDiskIo(disks: DiskIo[], syncNames = false): string {
  const [a, b] = syncNames ? ["ASYNC", "SYNC"] : ["READ", "WRITE"];
  const lines = [`MAJOR ${"GENDISK".padEnd(18)} NAME       ${"REQUEST_QUEUE".padEnd(18)} TOTAL ${a.padStart(5)} ${b.padStart(5)} `];
  for (const d of disks)
    lines.push(`${String(d.major).padStart(5)} ${hex16(d.gendisk)}   ${d.name.padEnd(10)} ${hex16(d.queue)}   ${String(d.read + d.write).padStart(5)} ${String(d.read).padStart(5)} ${String(d.write).padStart(5)} `);
  return lines.join("\n") + "\n";
}

/** `kdump analyze VMCORE dev -d|-D`. */
export const devCommand: AnalyzeCommand = {
  describe: "dev -d: the disks with their requests in flight (read, write); -D only the disks with some",
  run: (ctx) => {
    const { flags, rest } = parseFlags(ctx.opts.args ?? []);
    if (rest.length || (!flags.has("d") && !flags.has("D")) || [...flags.keys()].some((f) => f !== "d" && f !== "D"))
      throw new UsageError("dev takes -d (every disk's I/O in flight) or -D (only disks with I/O in flight)", { hint: "kdump analyze VMCORE dev -d" });
    const k = typedKernel(ctx);
    const disks = readDisks(k).filter((d) => !SKIPPED.test(d.name) && (!flags.has("D") || d.read + d.write > 0));
    return {
      data: disks.map((d) => ({ ...d, gendisk: hexJson(d.gendisk), queue: hexJson(d.queue) })),
      text: formatDiskIo(disks, k.program.btf.enumValue("BLK_RW_SYNC") !== undefined),
    };
  },
};
