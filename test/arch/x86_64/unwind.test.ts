// The unwinder's failure modes on a real dump: a task whose stack is not in the dump gets a trace that says so
// (the others are unaffected), and a frame without ORC whose caller cannot be found stops with a reason.
import { beforeAll, describe, expect, test } from "bun:test";
import { backtraces } from "../../../lib/analyze/bt.ts";
import { openDump } from "../../../lib/dump/open.ts";
import { FaultError } from "../../../lib/errors.ts";
import { openKernel } from "../../../lib/kernel/open.ts";
import { KernelProgram } from "../../../lib/kernel/program.ts";
import { forEachTask, readTask } from "../../../lib/kernel/tasks.ts";
import { unwind } from "../../../lib/arch/x86_64/unwind.ts";
import type { KernelView } from "../../../lib/kernel/view.ts";
import { sysrqDump } from "../../dump/_peers.ts";

const LAB = 900_000; // building a lab dump boots QEMU

/** `view`, except that reads touching [low, high) fail as memory missing from the dump would. */
function withHole(view: KernelView, low: bigint, high: bigint): KernelView {
  const read = (a: bigint, n: number) => {
    if (a < high && a + BigInt(n) > low) throw new FaultError("physical address not in the dump", a);
    return view.read(a, n);
  };
  return Object.create(view, {
    read: { value: read },
    u64: { value: (a: bigint) => new DataView(read(a, 8).slice().buffer).getBigUint64(0, true) },
  }) as KernelView;
}

describe("unwind failures on a 6.1 dump", () => {
  let view: KernelView;
  beforeAll(async () => {
    view = openKernel(openDump((await sysrqDump("6.1")).vmcore));
  }, LAB);

  test("a task whose stack is missing gets a clear error; other tasks still unwind", () => {
    const prog = new KernelProgram(view);
    const init = forEachTask(prog)
      .map((a) => readTask(prog, a))
      .find((t) => t.pid === 1)!;
    const holed = new KernelProgram(withHole(view, init.stack, init.stack + 16384n));
    const [one, two] = backtraces(holed, () => [], ["1", "2"]);
    expect(one!.frames.length).toBe(0);
    expect(one!.error).toMatch(/^cannot start the trace: physical address not in the dump: 0x[0-9a-f]{16}$/);
    expect(two!.error).toBeUndefined();
    expect(two!.frames.length).toBeGreaterThan(3);
  }, 60_000);

  test("a stack that becomes unreadable midway keeps the frames read so far", () => {
    const prog = new KernelProgram(view);
    const init = forEachTask(prog)
      .map((a) => readTask(prog, a))
      .find((t) => t.pid === 1)!;
    const full = backtraces(prog, () => [], ["1"])[0]!;
    const cut = BigInt(full.frames[3]!.sp);
    const holed = new KernelProgram(withHole(view, cut, init.stack + 16384n));
    const t = backtraces(holed, () => [], ["1"])[0]!;
    expect(t.frames.map((f) => f.function)).toEqual(full.frames.slice(0, t.frames.length).map((f) => f.function));
    expect(t.frames.length).toBeGreaterThanOrEqual(2);
    expect(t.error).toMatch(/^stack unreadable after \w+\+0x[0-9a-f]+: physical address not in the dump/);
  }, 60_000);

  test("a frame with no ORC entry and no caller on the stack stops with the function named", () => {
    const prog = new KernelProgram(view);
    // __crash_kexec has no ORC (objtool skips kexec_core.o); with an empty stack no call site can be found.
    const ip = prog.sym("__crash_kexec") + 0x20n;
    const sp = prog.sym("init_task"); // kernel data, not a stack: no return address into __crash_kexec there
    const trace = unwind(prog, () => [], { ip, sp, bp: 0n, signal: true }, []);
    expect(trace.frames.length).toBe(1);
    expect(trace.error).toBe("no unwind information for __crash_kexec+0x20");
  }, 60_000);
});
