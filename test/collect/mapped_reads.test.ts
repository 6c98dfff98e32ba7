// The collector reading through mmap windows (what it does on /proc/vmcore in a capture kernel) writes the same
// file as reading by pread, inline and with compression threads that read their own pages. Child processes, so
// KDUMP_MMAP=1 (map a dump file as /proc/vmcore is mapped) and KDUMP_NO_MMAP=1 are each process's own.
import { afterAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sysrqDump } from "../dump/_peers.ts";
import { removeScratch, scratchDir } from "../_scratch.ts";

afterAll(removeScratch);
const KDUMP = join(import.meta.dir, "../../kdump.ts");

function collectTo(vmcore: string, threads: number, env: Record<string, string>): Buffer {
  const out = scratchDir("kdump-mapped-");
  const file = join(out, "vmcore.flat");
  const p = Bun.spawnSync([process.execPath, KDUMP, "collect", "--from", vmcore, "--out", "-", "--threads", String(threads), "--no-dmesg"], {
    env: { ...process.env, ...env },
    stdout: Bun.file(file),
    stderr: "pipe",
  });
  expect([p.exitCode, p.stderr.toString().split("\n").find((l) => /kdump: |FAILED/.test(l)) ?? ""]).toEqual([0, ""]);
  return readFileSync(file);
}

test("mmap windows and pread give the same dump, inline and with 2 threads (6.1 sysrq dump)", async () => {
  const { vmcore } = await sysrqDump("6.1");
  const plain = collectTo(vmcore, 0, { KDUMP_NO_MMAP: "1" });
  expect(plain.length).toBeGreaterThan(1 << 20);
  for (const threads of [0, 2]) expect([threads, Buffer.compare(collectTo(vmcore, threads, { KDUMP_MMAP: "1" }), plain)]).toEqual([threads, 0]);
}, 300_000);
