// `irq -s`: per-IRQ interrupt counts on each CPU with the chip, flow handler and action names, as crash (and
// /proc/interrupts) print them; descriptors from irq_desc_tree (a radix tree, ≤ 6.4) or sparse_irqs (a maple
// tree, 6.5's 721255b9826b "genirq: Use a maple tree for interrupt descriptor management").
import type { Kernel } from "../kernel/kernel.ts";
import { mapleTreeForEach, xarrayForEach } from "../kernel/iterators.ts";
import type { KernelObject } from "../kernel/object.ts";
import type { AnalyzeCommand } from "./command.ts";
import { typedKernel } from "./_typed.ts";

/** One interrupt line. */
export interface IrqLine {
  irq: number;
  /** Count on each CPU. */
  counts: number[];
  /** Chip and flow, e.g. "IO-APIC-edge". */
  chip: string;
  /** The actions' names, comma-separated. */
  name: string;
}

function descriptors(k: Kernel): KernelObject[] {
  const t = k.type("struct irq_desc");
  if (k.program.symbols.lookup("sparse_irqs") !== undefined) return [...mapleTreeForEach(k.var("sparse_irqs"))].map((e) => k.object(e.entry, t));
  return [...xarrayForEach(k.var("irq_desc_tree"))].map((e) => k.object(e.entry, t));
}

/**
 * Interrupt lines with at least one action, by number.
 * @example readIrqs(k).find((l) => l.name === "timer")?.counts
 */
export function readIrqs(k: Kernel): IrqLine[] {
  const out: IrqLine[] = [];
  const cpus = k.nrCpus;
  for (const d of descriptors(k)) {
    const action = d.member("action");
    if (action.isNull()) continue;
    const names: string[] = [];
    for (let a = action, n = 0; !a.isNull() && n < 64; a = a.member("next"), n++) names.push(a.member("name").string(64));
    const kstat = d.member("kstat_irqs").integer();
    const counts: number[] = [];
    for (let cpu = 0; cpu < cpus; cpu++) {
      const at = (kstat + k.var("__per_cpu_offset").index(cpu).integer()) & 0xffffffffffffffffn;
      counts.push(kstat ? k.view.u32(at) : 0);
    }
    const chip = d.member("irq_data.chip");
    const chipName = chip.isNull() ? "" : chip.member("name").string(64);
    const flow = k.program.symbols.symbolize(d.member("handle_irq").integer())?.name.replace(/^handle_/, "").replace(/_irq$/, "") ?? "";
    out.push({ irq: d.member("irq_data.irq").number(), counts, chip: `${chipName}-${flow}`, name: names.join(", ") });
  }
  return out.sort((a, b) => a.irq - b.irq);
}

/** `kdump analyze VMCORE irq -s`. */
export const irqCommand: AnalyzeCommand = {
  describe: "irq -s: interrupt counts per CPU with chip, flow and action names",
  run: (ctx) => {
    const k = typedKernel(ctx);
    const lines = readIrqs(k);
    const head = "     " + Array.from({ length: k.nrCpus }, (_, c) => `CPU${c}`.padStart(11)).join("") + " ";
    const text = [head, ...lines.map((l) => `${String(l.irq).padStart(3)}: ${l.counts.map((c) => String(c).padStart(10)).join(" ")}  ${l.chip.padEnd(15)}  ${l.name}`)].join("\n") + "\n";
    return { data: lines, text };
  },
};
