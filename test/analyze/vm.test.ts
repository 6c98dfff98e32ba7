// vm on the sysrq lab dumps of every kernel line: the VMAs read from the maple tree (6.1+) must be as many as the
// kernel's own mm->map_count and cover exactly mm->total_vm pages; init maps /bin/busybox (the lab's init).
import { describe, expect, test } from "bun:test";
import { analyze } from "../../lib/analyze/command.ts";
import type { TaskVm } from "../../lib/analyze/vm.ts";
import { openKernel } from "../../lib/kernel/kernel.ts";
import { LINES, sysrqDump } from "../dump/_peers.ts";

const LAB = 900_000;

describe.each(LINES)("vm on %s", (line) => {
  test("vm 1 lists map_count VMAs covering total_vm, with init's executable", async () => {
    const vmcore = (await sysrqDump(line)).vmcore;
    const [vm] = JSON.parse(analyze(vmcore, "vm", { json: true, args: ["1"] }) as string) as TaskVm[];
    const k = await openKernel(vmcore);
    try {
      const mm = k.object(BigInt(vm!.mm), "struct mm_struct");
      expect(vm!.vmas.length).toBe(mm.member("map_count").number());
      const pages = vm!.vmas.reduce((n, v) => n + Number(BigInt(v.end) - BigInt(v.start)) / 4096, 0);
      expect(pages).toBe(mm.member("total_vm").number());
      expect(vm!.vmas.some((v) => v.file === "/bin/busybox")).toBe(true);
      const starts = vm!.vmas.map((v) => BigInt(v.start));
      expect(starts).toEqual([...starts].sort((a, b) => (a < b ? -1 : 1)));
    } finally {
      k.close();
    }
  }, LAB);
});
