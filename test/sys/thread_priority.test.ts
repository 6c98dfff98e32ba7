// libc's getpriority/setpriority on the calling thread (lib/sys/thread_priority.ts), and the collector's use of it:
// the mem_map walk runs 5 below the main thread's nice value and the value is put back. Run in child processes, so the
// test runner's own threads keep theirs.
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sysrqDump } from "../dump/_peers.ts";

const ROOT = join(import.meta.dir, "../..");

/** Runs `code` in a new Bun process; its stdout. */
async function child(code: string): Promise<string> {
  const p = Bun.spawn([process.execPath, "-e", code], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  if ((await p.exited) !== 0) throw new Error(err);
  return out.trim();
}

test("setThreadNice() changes the calling thread only, as the kernel's per-thread nice value says", async () => {
  const out = JSON.parse(
    await child(`
      import { readdirSync, readFileSync } from "node:fs";
      import { setThreadNice, threadNice } from "./lib/sys/thread_priority.ts";
      const niceOf = (tid) => Number(readFileSync("/proc/self/task/" + tid + "/stat", "utf8").split(") ")[1].split(" ")[16]);
      const before = threadNice();
      const took = setThreadNice(before + 3);
      const others = readdirSync("/proc/self/task").filter((t) => Number(t) !== process.pid).map(niceOf);
      console.log(JSON.stringify({ before, took, now: threadNice(), mine: niceOf(process.pid), others }));
    `),
  );
  expect(out.took).toBe(true);
  expect(out.now).toBe(out.before + 3);
  expect(out.mine).toBe(out.before + 3);
  expect(out.others.length).toBeGreaterThan(0); // Bun's own threads
  expect(out.others.every((n: number) => n === out.before)).toBe(true);
});

test("KDUMP_NO_PRIORITY=1: no binding, nothing changed", async () => {
  const out = await child(`
    process.env.KDUMP_NO_PRIORITY = "1";
    const { setThreadNice, threadNice } = await import("./lib/sys/thread_priority.ts");
    console.log(JSON.stringify([threadNice(), setThreadNice(5)]));
  `);
  expect(JSON.parse(out)).toEqual([null, false]);
});

test("a collect (whose walk runs 5 below) leaves the main thread's nice value as it found it", async () => {
  const { vmcore } = await sysrqDump("6.1");
  const dir = mkdtempSync(join(tmpdir(), "kdump-nice-"));
  try {
    const out = JSON.parse(
      await child(`
        import { collect } from "./lib/collect/collect.ts";
        import * as prio from "./lib/sys/thread_priority.ts";
        const before = prio.threadNice();
        const r = await collect({ from: ${JSON.stringify(vmcore)}, out: ${JSON.stringify(dir)}, threads: 2, progress: () => {} });
        console.log(JSON.stringify({ before, after: prio.threadNice(), pages: r.pagesWritten }));
      `),
    );
    expect(out.pages).toBeGreaterThan(1000);
    expect(out.after).toBe(out.before);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 300_000);
