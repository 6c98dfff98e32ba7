// withLock() between real processes: the lab's cache builders rely on it when bun test --parallel runs two workers.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { withLock, withSlot } from "../../lib/lab/lock.ts";

const LOCK = join(import.meta.dir, "..", "..", "lib", "lab", "lock.ts");

/** A child process that takes the lock on `path`, appends "<tag> in", waits `ms`, appends "<tag> out". */
function child(path: string, log: string, tag: string, ms: number) {
  const script = `
    import { appendFileSync } from "node:fs";
    import { withLock } from ${JSON.stringify(LOCK)};
    await withLock(${JSON.stringify(path)}, async () => {
      appendFileSync(${JSON.stringify(log)}, "${tag} in\\n");
      await Bun.sleep(${ms});
      appendFileSync(${JSON.stringify(log)}, "${tag} out\\n");
    });`;
  return Bun.spawn([process.execPath, "-e", script], { stdout: "ignore", stderr: "pipe" });
}

describe("withLock()", () => {
  let dir = "";
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "lock-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test("two processes never hold the same lock at once, and both get it", async () => {
    const log = join(dir, "log");
    writeFileSync(log, "");
    const a = child(join(dir, "entry"), log, "a", 600);
    const b = child(join(dir, "entry"), log, "b", 600);
    expect([await a.exited, await b.exited]).toEqual([0, 0]);
    const lines = readFileSync(log, "utf8").trim().split("\n");
    expect(lines).toHaveLength(4);
    // each "in" is followed by its own "out" before the other process gets in
    expect(lines[0]!.split(" ")[0]).toBe(lines[1]!.split(" ")[0]!);
    expect(lines.map((l) => l.split(" ")[1])).toEqual(["in", "out", "in", "out"]);
  });

  test("a lock left by a process that is gone is taken over; the lock is removed afterwards, also when the body throws", async () => {
    const entry = join(dir, "entry");
    const dead = Bun.spawn(["true"]);
    await dead.exited;
    mkdirSync(`${entry}.lock`);
    writeFileSync(join(`${entry}.lock`, "pid"), String(dead.pid));
    expect(await withLock(entry, () => 42)).toBe(42);
    expect(() => readFileSync(join(`${entry}.lock`, "pid"))).toThrow();
    await expect(withLock(entry, () => Promise.reject(new Error("build failed")))).rejects.toThrow("build failed");
    expect(await withLock(entry, () => "again")).toBe("again");
  });

  test("a lock whose owner never wrote its pid is taken over once it is 10 s old", async () => {
    const entry = join(dir, "entry");
    mkdirSync(`${entry}.lock`);
    const old = new Date(Date.now() - 11_000);
    utimesSync(`${entry}.lock`, old, old);
    expect(await withLock(entry, () => "taken")).toBe("taken");
  });
});

test("withSlot lets at most N bodies run at once, and frees a slot whose process is gone", async () => {
  const dir = mkdtempSync(join(tmpdir(), "kdump-slots-"));
  mkdirSync(join(dir, "slot-0"));
  writeFileSync(join(dir, "slot-0", "pid"), "999999999"); // a process that does not exist
  let running = 0;
  let most = 0;
  const body = async () => {
    running++;
    most = Math.max(most, running);
    await Bun.sleep(300);
    running--;
  };
  await Promise.all([1, 2, 3, 4].map(() => withSlot(dir, 2, body)));
  expect(most).toBe(2);
  expect(readdirSync(dir)).toEqual([]);
  rmSync(dir, { recursive: true, force: true });
});
