// `mount`: the mounts of init's mount namespace as crash lists them: struct mount, super_block, file system type,
// device name and mount point.
import { readMounts, type MountEntry } from "../kernel/vfs.ts";
import type { AnalyzeCommand } from "./command.ts";
import { hex16, hexJson, typedKernel } from "./_typed.ts";

/** crash's mount text. */
export function formatMounts(ms: MountEntry[]): string {
  const lines = ["     MOUNT           SUPERBLK     TYPE   DEVNAME   DIRNAME"];
  for (const m of ms) lines.push(`${hex16(m.mount)} ${hex16(m.superblock)} ${m.type.padEnd(6)} ${m.devname.padEnd(9)} ${m.dirname.padEnd(10)}`);
  return lines.join("\n") + "\n";
}

/** `kdump analyze VMCORE mount`. */
export const mountCommand: AnalyzeCommand = {
  describe: "mount: the mounted file systems (mount, super block, type, device, directory)",
  run: (ctx) => {
    const ms = readMounts(typedKernel(ctx));
    return { data: ms.map((m) => ({ ...m, mount: hexJson(m.mount), superblock: hexJson(m.superblock) })), text: formatMounts(ms) };
  },
};
