// Cache entries of the lab (kernels, packages, root images, dumps, peer tools' outputs) are built once and shared by
// processes running at the same time: `bun test --parallel` runs test files in several workers, and two of them may
// ask for the same dump. Each builder holds a lock directory while it builds; the others wait, then find it built.
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { LabError } from "../errors.ts";

/** A lock left by a process that is gone, or older than this, is taken over. */
const STALE_MS = 20 * 60_000;

/**
 * Runs `body` while holding the lock `<path>.lock`: one process at a time per path. A caller checks for the
 * finished entry again inside `body`, since another process may have built it while this one waited.
 * @example await withLock(image, async () => existsSync(image) || build(image))
 */
export async function withLock<T>(path: string, body: () => Promise<T> | T): Promise<T> {
  const lock = `${path}.lock`;
  mkdirSync(dirname(lock), { recursive: true, mode: 0o700 });
  const started = Date.now();
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, "pid"), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    if (Date.now() - started > 2 * STALE_MS) throw new LabError(`waited ${(2 * STALE_MS) / 60_000} minutes for ${lock}`, { hint: "remove it if no lab process is running" });
    const pid = Number(existsSync(join(lock, "pid")) ? readFileSync(join(lock, "pid"), "utf8") : 0);
    let age = 0;
    try {
      age = Date.now() - statSync(lock).mtimeMs;
    } catch {
      continue; // released between our mkdir and stat
    }
    if ((pid > 0 && !alive(pid)) || (pid === 0 && age > 10_000) || age > STALE_MS) rmSync(lock, { recursive: true, force: true });
    else await Bun.sleep(500);
  }
  try {
    return await body();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/**
 * The cache entry at `path`, built at most once among concurrent processes: `find()` returns it when it is there
 * (undefined otherwise); when it is not, `make()` builds it under the lock on `path`, unless another process
 * finished it while this one waited for the lock.
 * @example await buildOnce(image, () => (existsSync(image) ? image : undefined), () => makeImage(image))
 */
export async function buildOnce<T>(path: string, find: () => T | undefined, make: () => Promise<T>): Promise<T> {
  return find() ?? withLock(path, () => find() ?? make());
}

/**
 * Runs `body` holding one of `slots` guest slots under `dir`, so that processes sharing a machine boot at most that
 * many QEMU guests at once (TCG guests each take a whole CPU; more of them than CPUs only makes every guest time
 * out). A slot left by a process that is gone is taken over.
 * @example await withSlot("/tmp/kdump-guest-slots", 2, () => boot())
 */
export async function withSlot<T>(dir: string, slots: number, body: () => Promise<T>): Promise<T> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (;;) {
    for (let i = 0; i < slots; i++) {
      const slot = join(dir, `slot-${i}`);
      try {
        mkdirSync(slot);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
        const pidFile = join(slot, "pid");
        const pid = Number(existsSync(pidFile) ? readFileSync(pidFile, "utf8") : 0);
        let age = 0;
        try {
          age = Date.now() - statSync(slot).mtimeMs;
        } catch {
          continue;
        }
        if ((pid > 0 && !alive(pid)) || (pid === 0 && age > 10_000)) rmSync(slot, { recursive: true, force: true });
        continue;
      }
      writeFileSync(join(slot, "pid"), String(process.pid));
      try {
        return await body();
      } finally {
        rmSync(slot, { recursive: true, force: true });
      }
    }
    await Bun.sleep(1000);
  }
}

/** True while process `pid` exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
