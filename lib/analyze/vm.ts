// `vm PID|TASK`: a task's memory map as crash prints it: the mm_struct, page table root, RSS and total size, then
// each VMA (start, end, flags, file) from the mm's maple tree (6.1+) or its mmap list (older kernels).
import type { Kernel } from "../kernel/kernel.ts";
import { mapleTreeForEach } from "../kernel/iterators.ts";
import type { KernelObject } from "../kernel/object.ts";
import { perCpuOffset } from "../kernel/percpu.ts";
import { readTask } from "../kernel/tasks.ts";
import { dentryPath } from "../kernel/vfs.ts";
import type { AnalyzeCommand } from "./command.ts";
import { forTaskArgs } from "./files.ts";
import { hexJson } from "./_typed.ts";

/** One VMA. */
export interface Vma {
  vma: string;
  start: string;
  end: string;
  /** vm_flags in hex. */
  flags: string;
  /** The mapped file's path, "" for anonymous memory. */
  file: string;
}

/** A task's address space. */
export interface TaskVm {
  pid: number;
  /** The CPU it last ran on. */
  cpu: number;
  task: string;
  comm: string;
  mm: string;
  pgd: string;
  /** Resident pages (file + anon + shmem) in KiB. */
  rssKb: number;
  /** total_vm in KiB. */
  totalVmKb: number;
  vmas: Vma[];
}

function vmas(k: Kernel, mm: KernelObject): KernelObject[] {
  const t = k.type("struct vm_area_struct");
  if (mm.has("mm_mt")) return [...mapleTreeForEach(mm.member("mm_mt"))].map((e) => k.object(e.entry, t));
  const out: KernelObject[] = [];
  for (let v = mm.member("mmap"); !v.isNull() && out.length < 1 << 20; v = v.member("vm_next")) out.push(v.deref());
  return out;
}

/**
 * The address space of `task`.
 * @example taskVm(k, findTask(k, "1")).vmas.length
 */
export function taskVm(k: Kernel, task: KernelObject): TaskVm {
  const t = readTask(k.program, task.address!);
  const mm = task.member("mm");
  const out: TaskVm = { pid: t.pid, cpu: t.cpu, task: hexJson(t.task), comm: t.comm, mm: hexJson(mm.integer()), pgd: "0x0", rssKb: 0, totalVmKb: 0, vmas: [] };
  if (mm.isNull()) return out;
  const m = mm.deref();
  const kb = k.view.info.pageSize / 1024;
  out.pgd = hexJson(m.member("pgd").integer());
  const counters = m.member("rss_stat");
  // rss_stat: struct mm_rss_stat { atomic_long_t count[4] } up to 6.1, percpu_counter[4] from 6.2 (f1a7941243c1 "mm:
  // convert mm's rss stats into percpu_counter"), whose value is count plus each CPU's s32 delta (percpu_counter_sum).
  let rss = 0;
  for (let i = 0; i < 4; i++) {
    if (i === 2) continue; // MM_SWAPENTS
    const c = counters.type.kind === "array" ? counters.index(i) : counters.member("count").index(i);
    if (c.has("counter")) rss += c.member("counter").number();
    else {
      rss += c.member("count").number();
      const deltas = c.member("counters").integer();
      if (deltas !== 0n) for (let cpu = 0; cpu < k.nrCpus; cpu++) rss += k.view.s32((deltas + perCpuOffset(k.program, cpu)) & 0xffffffffffffffffn);
    }
  }
  out.rssKb = Math.max(0, rss) * kb;
  out.totalVmKb = m.member("total_vm").number() * kb;
  for (const v of vmas(k, m)) {
    const file = v.member("vm_file");
    out.vmas.push({
      vma: hexJson(v.address!),
      start: hexJson(v.member("vm_start").integer()),
      end: hexJson(v.member("vm_end").integer()),
      flags: "0x" + v.member("vm_flags").integer().toString(16),
      file: file.isNull() ? "" : dentryPath(k, file.member("f_path.dentry").deref(), k.containerOf(file.member("f_path.mnt").integer(), "struct mount", "mnt")),
    });
  }
  return out;
}

/** crash's mkstring(CENTER|LJUST): `s` centred in `width`, the odd space on the right. */
const center = (s: string, width: number) => {
  const pad = Math.max(0, width - s.length);
  return " ".repeat(pad >> 1) + s + " ".repeat(pad - (pad >> 1));
};

/** crash's vm text (memory.c PRINT_VM_DATA and PRINT_VMA_DATA: user addresses right-justified in 10). */
export function formatVm(v: TaskVm): string {
  const lines = [
    `PID: ${String(v.pid).padEnd(8)} TASK: ${v.task.slice(2)}  CPU: ${String(v.cpu).padEnd(4)} COMMAND: "${v.comm}"`,
    `${center("MM", 16)}  ${center("PGD", 16)}  ${center("RSS", 6)}  ${center("TOTAL_VM", 8)}`,
    `${center(v.mm.slice(2), 16)}  ${center(v.pgd.slice(2), 16)}  ${center(v.rssKb + "k", 6)}  ${center(v.totalVmKb + "k", 8)}`,
    "      VMA           START       END     FLAGS FILE",
  ];
  for (const a of v.vmas) lines.push(`${a.vma.slice(2)} ${BigInt(a.start).toString(16).padStart(10)} ${BigInt(a.end).toString(16).padStart(10)} ${a.flags.slice(2).padStart(6)} ${a.file}`);
  return lines.join("\n") + "\n";
}

/** `kdump analyze VMCORE vm PID|TASK…`. */
export const vmCommand: AnalyzeCommand = {
  describe: "vm PID|TASK: a task's mm, RSS and each VMA with its flags and file",
  run: (ctx) => {
    const all = forTaskArgs(ctx, "vm", taskVm);
    return { data: all, text: all.map(formatVm).join("\n") };
  },
};
