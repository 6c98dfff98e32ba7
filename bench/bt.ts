// The panic task's stack trace on one lab dump (6.1 sysrq, ~850 MB), in one run each: ours from the dump alone,
// crash 8.0.2 and drgn 0.0.22 each with Debian's -dbg vmlinux. Wall time and peak RSS of each process, and ratios.
// Files are read once first so the page cache, not the disk, is measured. Run: bun bench/bt.ts [6.1|6.12]
import { join } from "node:path";
import { sysrqDump } from "../test/dump/_peers.ts";
import { debugKernel } from "../test/kernel/_images.ts";

/** Wall seconds, peak RSS bytes and stdout of one process run. */
interface Run {
  seconds: number;
  rss: number;
  out: string;
}

async function measure(cmd: string[], stdin?: string): Promise<Run> {
  const t0 = performance.now();
  const p = Bun.spawn(cmd, { stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin), stdout: "pipe", stderr: "pipe" });
  const out = await new Response(p.stdout).text();
  const code = await p.exited;
  const seconds = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`${cmd[0]} exited ${code}: ${(await new Response(p.stderr).text()).slice(-400)}`);
  return { seconds, rss: p.resourceUsage()!.maxRSS, out };
}

async function warm(path: string): Promise<void> {
  const f = Bun.file(path).stream();
  for await (const _ of f);
}

const line = process.argv[2] ?? "6.1";
const vmcore = (await sysrqDump(line)).vmcore;
const dbg = await debugKernel(line);
await warm(vmcore);
await warm(dbg.vmlinux);

const kdump = join(import.meta.dir, "..", "kdump.ts");
const cli = await measure([process.execPath, kdump, "--help"]);
const ours = await measure([process.execPath, kdump, "analyze", vmcore, "bt"]);
const crash = line === "6.1" ? await measure(["crash", "-s", dbg.vmlinux, vmcore], "bt\nquit\n") : undefined;
const drgnScript = `
import drgn
prog = drgn.Program()
prog.set_core_dump(${JSON.stringify(vmcore)})
prog.load_debug_info([${JSON.stringify(dbg.vmlinux)}], default=False)
print(prog.crashed_thread().stack_trace())
`;
const drgn = await measure(["/usr/bin/python3", "-c", drgnScript]).catch((e: Error) => e.message);

const mb = (b: number) => `${(b / 1e6).toFixed(0)} MB`;
const row = (name: string, r: Run) => `${name.padEnd(6)} ${r.seconds.toFixed(3)} s  ${mb(r.rss).padStart(7)}  ${r.out.split("\n").filter((l) => /^ ?#\d+ /.test(l)).length} frames`;
console.log(`panic bt on ${vmcore} (${(Bun.file(vmcore).size / 1e6).toFixed(0)} MB), debuginfo for peers: ${dbg.vmlinux} (${(Bun.file(dbg.vmlinux).size / 1e6).toFixed(0)} MB)`);
console.log(row("ours", ours) + `  (no debuginfo; of which the CLI's own start, kdump --help: ${cli.seconds.toFixed(3)} s, ${mb(cli.rss)})`);
for (const [name, r] of [["crash", crash], ["drgn", drgn]] as const) {
  if (!r || typeof r === "string") {
    console.log(`${name.padEnd(6)} ${r ? `failed: ${r.split("\n").filter(Boolean).pop()}` : "cannot open this kernel's dumps (8.0.2 predates 6.12)"}`);
    continue;
  }
  console.log(`${row(name, r)}  ratio ${(r.seconds / ours.seconds).toFixed(1)}x time, ${(r.rss / ours.rss).toFixed(1)}x memory`);
}
console.log(`target: ours < 0.25 s and < 100 MB: ${ours.seconds < 0.25 && ours.rss < 100e6 ? "met" : "NOT met"}`);
