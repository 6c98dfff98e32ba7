// Counts read from a dump bound the loops they drive (issue 18: `analyze ps` on an ELF dump whose nr_cpu_ids was
// changed from 2 to 0x80000000 ran for minutes and grew past 1.8 GB). Built from that case: the lab dump with
// nr_cpu_ids patched in place, read through a PatchedSource.
import { describe, expect, test } from "bun:test";
import { AnalyzeContext, analyzeCommands } from "../../lib/analyze/command.ts";
import { ElfDump } from "../../lib/dump/elf.ts";
import { openDump } from "../../lib/dump/open.ts";
import { FileSource } from "../../lib/dump/source.ts";
import { BadDataError } from "../../lib/errors.ts";
import { openKernel } from "../../lib/kernel/open.ts";
import { KernelProgram } from "../../lib/kernel/program.ts";
import { listEntries } from "../../lib/kernel/tasks.ts";
import { LINES, sysrqDump } from "../dump/_peers.ts";
import { leBytes, PatchedSource } from "../dump/_patched.ts";
import { elfPhysToFile } from "../fuzz/_regions.ts";

const LAB = 900_000; // building a lab dump boots QEMU

/** The file offset of kernel symbol `name` in the ELF dump at `vmcore`. */
function symbolOffset(vmcore: string, name: string): { at: bigint; offset: number } {
  const dump = openDump(vmcore) as ElfDump;
  try {
    const prog = new KernelProgram(openKernel(dump));
    const at = prog.sym(name);
    const p = prog.view.translate(at);
    return { at, offset: elfPhysToFile(dump, p, p + 4n)[0]![0] };
  } finally {
    dump.close();
  }
}

/** The lab dump with `patches` applied, opened. */
function patched(vmcore: string, patches: { offset: number; bytes: Uint8Array }[]): ElfDump {
  return new ElfDump(new PatchedSource(new FileSource(vmcore), patches), vmcore);
}

describe.each(LINES)("hostile counts on %s", (line) => {
  test.each([0x80000000, 0xffffffff, 0])("ps and bt -a with nr_cpu_ids %d fail at once, naming nr_cpu_ids and its address", async (n) => {
    const { vmcore } = await sysrqDump(line);
    const { at, offset } = symbolOffset(vmcore, "nr_cpu_ids");
    const dump = patched(vmcore, [{ offset, bytes: leBytes(n, 4) }]);
    try {
      const ctx = new AnalyzeContext(dump, { args: ["-a"] });
      const t0 = performance.now();
      for (const cmd of ["ps", "bt"]) {
        expect(() => analyzeCommands[cmd]!.run(ctx)).toThrow(BadDataError);
        expect(() => analyzeCommands[cmd]!.run(ctx)).toThrow(`nr_cpu_ids at 0x${at.toString(16).padStart(16, "0")} is ${n}, not a CPU count`);
      }
      expect(performance.now() - t0).toBeLessThan(10_000);
    } finally {
      dump.close();
    }
  }, LAB);

  test("a task list that loops back stops with a BadDataError naming the list", async () => {
    const { vmcore } = await sysrqDump(line);
    const dump = openDump(vmcore);
    try {
      const prog = new KernelProgram(openKernel(dump));
      const head = prog.sym("init_task") + BigInt(prog.off("task_struct", "tasks"));
      const entries = listEntries(prog, head, "task_struct", "tasks");
      expect(entries.length).toBeGreaterThan(20);
      // the third task's tasks.next points back at the second's: a cycle that never reaches the head
      const third = entries[2]! + BigInt(prog.off("task_struct", "tasks"));
      const p = prog.view.translate(third);
      const offset = elfPhysToFile(dump as ElfDump, p, p + 8n)[0]![0];
      const bad = patched(vmcore, [{ offset, bytes: leBytes(entries[1]! + BigInt(prog.off("task_struct", "tasks")), 8) }]);
      try {
        const bprog = new KernelProgram(openKernel(bad));
        expect(() => listEntries(bprog, head, "task_struct", "tasks")).toThrow(/the list of task_struct.tasks at 0x[0-9a-f]{16} loops back to 0x[0-9a-f]{16} after 3 entries/);
      } finally {
        bad.close();
      }
    } finally {
      dump.close();
    }
  }, LAB);
});
