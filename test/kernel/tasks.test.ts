// taskStateChar() for the states the lab dumps do not show (ps.test.ts compares the ones they do with drgn):
// each state bit maps to the letter fs/proc/array.c's task_state_array gives it.
import { expect, test } from "bun:test";
import { taskStateChar } from "../../lib/kernel/tasks.ts";

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
