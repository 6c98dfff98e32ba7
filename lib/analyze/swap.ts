// `swap`: the swap areas (swap_info[0 … nr_swapfiles), those with SWP_USED set): type, size, used pages,
// priority and file name, as crash lists them.
import type { Kernel } from "../kernel/kernel.ts";
import { dentryPath } from "../kernel/vfs.ts";
import type { AnalyzeCommand } from "./command.ts";
import { hex16, hexJson, typedKernel } from "./_typed.ts";

/** One swap area. */
export interface SwapArea {
  /** Address of its swap_info_struct. */
  info: string;
  /** PARTITION or FILE. */
  type: string;
  /** Size and used space in KiB. */
  sizeKb: number;
  usedKb: number;
  priority: number;
  filename: string;
}

const SWP_USED = 1;

/**
 * The swap areas in use.
 * @example readSwap(k).reduce((n, s) => n + s.usedKb, 0)
 */
export function readSwap(k: Kernel): SwapArea[] {
  const n = k.var("nr_swapfiles", "unsigned int").number();
  const kb = k.view.info.pageSize / 1024;
  const out: SwapArea[] = [];
  for (let i = 0; i < n; i++) {
    const p = k.object(k.symbol("swap_info") + BigInt(i * 8), "struct swap_info_struct *");
    if (p.isNull()) continue;
    const si = p.deref();
    if (!(si.member("flags").number() & SWP_USED)) continue;
    const file = si.member("swap_file");
    const mode = file.isNull() ? 0 : file.member("f_inode").member("i_mode").number();
    out.push({
      info: hexJson(si.address!),
      type: (mode & 0o170000) === 0o60000 ? "PARTITION" : "FILE",
      sizeKb: si.member("pages").number() * kb,
      usedKb: si.member("inuse_pages").number() * kb,
      priority: si.member("prio").number(),
      filename: file.isNull() ? "" : dentryPath(k, file.member("f_path.dentry").deref(), k.containerOf(file.member("f_path.mnt").integer(), "struct mount", "mnt")),
    });
  }
  return out;
}

/** `kdump analyze VMCORE swap`. */
export const swapCommand: AnalyzeCommand = {
  describe: "swap: the swap areas with their size, use, priority and file",
  run: (ctx) => {
    const areas = readSwap(typedKernel(ctx));
    const lines = ["SWAP_INFO_STRUCT    TYPE       SIZE       USED     PCT  PRI  FILENAME"];
    for (const a of areas)
      lines.push(`${hex16(BigInt(a.info))}  ${a.type.padEnd(9)} ${(a.sizeKb + "k").padStart(9)} ${(a.usedKb + "k").padStart(9)}    ${String(a.sizeKb ? Math.floor((a.usedKb * 100) / a.sizeKb) : 0).padStart(2)}%  ${String(a.priority).padStart(3)}  ${a.filename}`);
    return { data: areas, text: lines.join("\n") + "\n" };
  },
};
