// taskStateChar() for the states the lab dumps do not show (ps.test.ts compares the ones they do with drgn):
// each state bit maps to the letter fs/proc/array.c's task_state_array gives it.
import { expect, test } from "bun:test";
import { openDump } from "../../lib/dump/open.ts";
import { MissingDataError } from "../../lib/errors.ts";
import { openKernel } from "../../lib/kernel/open.ts";
import { KernelProgram } from "../../lib/kernel/program.ts";
import { forEachTask, taskStateChar } from "../../lib/kernel/tasks.ts";
import { sysrqDump } from "../dump/_peers.ts";

test("taskStateChar() follows the kernel's task_state_to_char()", () => {
  expect(taskStateChar(0, 0)).toBe("R");
  expect(taskStateChar(0x1, 0)).toBe("S");
  expect(taskStateChar(0x2, 0)).toBe("D");
  expect(taskStateChar(0x402, 0)).toBe("I"); // TASK_IDLE
  expect(taskStateChar(0x4, 0)).toBe("T");
  expect(taskStateChar(0x8, 0)).toBe("t");
  expect(taskStateChar(0, 0x20)).toBe("Z"); // EXIT_ZOMBIE
  expect(taskStateChar(0, 0x10)).toBe("X"); // EXIT_DEAD
  expect(taskStateChar(0x40, 0)).toBe("P"); // TASK_PARKED
  expect(taskStateChar(0x1000, 0)).toBe("D"); // TASK_RTLOCK_WAIT
});

// Dump fuzz seed 74, case 274 (7.2): a BTF mutation broke rq.idle and ps listed no swapper/N, without a word.
test("forEachTask() says why it has no idle tasks when struct rq's idle member cannot be read", async () => {
  const dump = openDump((await sysrqDump("6.1")).vmcore);
  try {
    const clean = forEachTask(new KernelProgram(openKernel(dump)), []);
    // the same dump with the BTF name "idle" spelled "idlf" (the program reads its own copy of the BTF bytes)
    const broken = () => {
      const prog = new KernelProgram(openKernel(dump));
      const b = prog.btf.bytes;
      const at = Buffer.from(b.buffer, b.byteOffset, b.length).indexOf("\0idle\0");
      expect(at).toBeGreaterThan(0);
      b[at + 4] = "f".charCodeAt(0);
      return prog;
    };
    const errors: string[] = [];
    const tasks = forEachTask(broken(), errors);
    expect(tasks).toEqual(clean.slice(2)); // the two CPUs' idle tasks come first
    expect(errors).toEqual(["the idle task of CPU 0 is unknown: BTF: no member idle of struct rq"]);
    expect(() => forEachTask(broken())).toThrow(MissingDataError);
  } finally {
    dump.close();
  }
}, 900_000);
