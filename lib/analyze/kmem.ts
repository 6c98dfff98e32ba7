// `kmem`: crash's memory views from the dump alone: `-i` the memory summary (the /proc/meminfo counters),
// `-s [NAME…]` the slab caches with slabinfo's object counts, and `kmem ADDR` what an address is (a symbol, a
// slab object, or a page of the direct map).
import { UsageError } from "../errors.ts";
import type { Kernel } from "../kernel/kernel.ts";
import { readMemInfo, type MemInfo } from "../kernel/meminfo.ts";
import { readSlabCaches, type SlabCache } from "../kernel/slab.ts";
import { whatIsAddress } from "../kernel/address.ts";
import type { AnalyzeCommand } from "./command.ts";
import { hex16, hexJson, parseAddress, parseFlags, typedKernel } from "./_typed.ts";

/** crash's size text: one decimal dropped when it is .0, in KB, MB or GB ("716 MB", "64.7 MB", "44 KB"). */
export function sizeText(bytes: number): string {
  if (bytes === 0) return "0";
  const units: [number, string][] = [[2 ** 30, "GB"], [2 ** 20, "MB"], [2 ** 10, "KB"]];
  for (const [u, name] of units) if (bytes >= u) return `${(bytes / u).toFixed(1).replace(/\.0$/, "")} ${name}`;
  return `${bytes} bytes`;
}

/** crash's `kmem -i` text. */
export function formatMemInfo(m: MemInfo): string {
  const row = (label: string, pages: number, of?: [number, string]) =>
    `${label.padStart(13)}  ${String(pages).padStart(7)}  ${sizeText(pages * m.pageSize).padStart(11)}  ${of ? `${String(of[0] ? Math.floor((pages * 100) / of[0]) : 0).padStart(3)}% of ${of[1]}` : "       ----"}`;
  const mem: [number, string] = [m.total, "TOTAL MEM"];
  return [
    "                 PAGES        TOTAL      PERCENTAGE",
    row("TOTAL MEM", m.total),
    row("FREE", m.free, mem),
    row("USED", m.total - m.free, mem),
    row("SHARED", m.shared, mem),
    row("BUFFERS", m.buffers, mem),
    row("CACHED", m.cached, mem),
    row("SLAB", m.slab, mem),
    "",
    row("TOTAL HUGE", m.hugeTotal),
    row("HUGE FREE", m.hugeFree, [m.hugeTotal, "TOTAL HUGE"]),
    "",
    row("TOTAL SWAP", m.swapTotal),
    row("SWAP USED", m.swapTotal - m.swapFree, [m.swapTotal, "TOTAL SWAP"]),
    row("SWAP FREE", m.swapFree, [m.swapTotal, "TOTAL SWAP"]),
    "",
    row("COMMIT LIMIT", m.commitLimit),
    row("COMMITTED", m.committed, [m.commitLimit, "TOTAL LIMIT"]),
  ].join("\n") + "\n";
}

/** crash's `kmem -s` text (ALLOCATED is slabinfo's active_objs). */
export function formatSlabs(caches: SlabCache[]): string {
  const lines = ["CACHE             OBJSIZE  ALLOCATED     TOTAL  SLABS  SSIZE  NAME"];
  for (const c of caches)
    lines.push(`${hex16(c.address)} ${String(c.objectSize).padStart(8)} ${String(c.active).padStart(10)} ${String(c.total).padStart(9)} ${String(c.slabs).padStart(6)} ${(c.slabSize / 1024 + "k").padStart(6)}  ${c.name}`);
  return lines.join("\n") + "\n";
}

function slabJson(c: SlabCache) {
  return { cache: hexJson(c.address), name: c.name, objsize: c.objectSize, size: c.size, allocated: c.active, total: c.total, slabs: c.slabs, ssize: c.slabSize };
}

function kmemSlabs(k: Kernel, names: string[]) {
  let caches = readSlabCaches(k);
  if (names.length) {
    caches = caches.filter((c) => names.includes(c.name));
    if (!caches.length) throw new UsageError(`kmem: no slab cache named ${names.join(", ")}`, { hint: "kmem -s lists them all" });
  }
  return { data: caches.map(slabJson), text: formatSlabs(caches) };
}

/** `kdump analyze VMCORE kmem -i | -s [NAME…] | ADDR…`. */
export const kmemCommand: AnalyzeCommand = {
  describe: "kmem -i | -s [NAME…] | ADDR: memory summary, slab caches, or what an address is",
  run: (ctx) => {
    const { flags, rest } = parseFlags(ctx.opts.args ?? []);
    const k = typedKernel(ctx);
    if (flags.has("i")) {
      const m = readMemInfo(k);
      return { data: m, text: formatMemInfo(m) };
    }
    if (flags.has("s") || flags.has("S")) return kmemSlabs(k, rest);
    if (!rest.length) throw new UsageError("kmem needs -i, -s or an address", { hint: "kmem -i, kmem -s task_struct, kmem ffff888003a4c000" });
    const found = rest.map((a) => whatIsAddress(k, parseAddress(k, a)));
    return { data: found.map((f) => ({ ...f, address: hexJson(f.address), object: f.object === undefined ? undefined : hexJson(f.object), page: f.page === undefined ? undefined : hexJson(f.page) })), text: found.map((f) => f.text).join("\n") + "\n" };
  },
};
