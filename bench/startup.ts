// Start-up cost of the CLI: `kdump --help`, `analyze VMCORE bt` and `analyze VMCORE log` on a lab dump (6.1 sysrq,
// ~850 MB), from source (`bun kdump.ts`) and as the single binary `npm run build` makes (bun build --compile
// --bytecode), beside Bun starting an empty script. Best of N runs: wall and CPU seconds, peak RSS.
// The machine's load moves wall time a lot: CPU seconds are the steadier figure.
// Run: npm run build && bun bench/startup.ts [N]
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sysrqDump } from "../test/dump/_peers.ts";

const runs = Number(process.argv[2] ?? 9);
const root = join(import.meta.dir, "..");
const binary = join(root, "dist", "kdump");
const { vmcore } = await sysrqDump("6.1");
for await (const _ of Bun.file(vmcore).stream()); // page cache, not disk

/** Best wall and CPU seconds and the largest RSS over `runs` runs of `cmd`. */
function best(cmd: string[]): { wall: number; cpu: number; rss: number } {
  let wall = Infinity, cpu = Infinity, rss = 0;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    // /usr/bin/time reports the RSS: a child of this (large) process would count the pages it shared before exec
    const p = Bun.spawnSync(["/usr/bin/time", "-f", "%M", ...cmd], { stdout: "ignore", stderr: "pipe" });
    const err = p.stderr.toString();
    if (p.exitCode !== 0) throw new Error(`${cmd.join(" ")} exited ${p.exitCode}: ${err.slice(-300)}`);
    wall = Math.min(wall, (performance.now() - t0) / 1000);
    cpu = Math.min(cpu, Number(p.resourceUsage.cpuTime.total) / 1e6);
    rss = Math.max(rss, Number(err.trim().split("\n").at(-1)) * 1024);
  }
  return { wall, cpu, rss };
}

const scratch = mkdtempSync(join(tmpdir(), "kdump-startup-"));
const empty = join(scratch, "one.js");
writeFileSync(empty, "console.log(1)\n");
const fmt = (name: string, r: ReturnType<typeof best>) => `${name.padEnd(34)} ${r.wall.toFixed(3)} s  cpu ${r.cpu.toFixed(3)} s  ${(r.rss / 1048576).toFixed(0).padStart(4)} MB`;
console.log(`best of ${runs}; ${vmcore}`);
console.log(fmt("bun one.js", best([process.execPath, empty])));
const ways: [string, string[]][] = [["bun kdump.ts", [process.execPath, join(root, "kdump.ts")]]];
if (existsSync(binary)) ways.push(["dist/kdump (compile --bytecode)", [binary]]);
else console.log("(no dist/kdump: run npm run build to compare the single binary)");
for (const [name, cmd] of ways) {
  console.log(fmt(`${name} --help`, best([...cmd, "--help"])));
  console.log(fmt(`${name} analyze bt`, best([...cmd, "analyze", vmcore, "bt"])));
  console.log(fmt(`${name} analyze log`, best([...cmd, "analyze", vmcore, "log"])));
}
rmSync(scratch, { recursive: true, force: true });
