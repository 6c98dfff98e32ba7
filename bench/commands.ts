// The data commands from a cold start on one lab dump (sysrq, ~850 MB): each `kdump analyze VMCORE CMD` as its own
// process (no debuginfo), against the same command in crash (with the -dbg vmlinux; a run of crash per command,
// its startup included, as a user pays it, on a sample of the commands; the crash binary is KDUMP_PEER_CRASH, default Debian 12's 8.0.2, which
// reads 6.1 only) and drgn 0.0.22 for the commands drgn has a helper for. Each of ours is run 3 times, the median
// kept. Run: bun bench/commands.ts [6.1|6.12] [--no-peers]
import { join } from "node:path";
import { sysrqDump } from "../test/dump/_peers.ts";
import { debugKernel } from "../test/kernel/_images.ts";
import { PEER_CRASH, PEER_CRASH_LINES } from "../test/analyze/_peer_crash.ts";

/** CPU seconds (user + system) of the last process measured: on a shared machine wall time waits for others. */
let lastCpu = 0;

async function seconds(cmd: string[], stdin?: string): Promise<number> {
  const t0 = performance.now();
  const p = Bun.spawn(cmd, { stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin), stdout: "ignore", stderr: "pipe" });
  const code = await p.exited;
  if (code !== 0) throw new Error(`${cmd.join(" ")} exited ${code}: ${(await new Response(p.stderr).text()).slice(-300)}`);
  const cpu = p.resourceUsage()!.cpuTime;
  lastCpu = Number(cpu.user + cpu.system) / 1e6;
  return (performance.now() - t0) / 1000;
}

const line = process.argv[2] ?? "6.1";
const peers = !process.argv.includes("--no-peers");
const vmcore = (await sysrqDump(line)).vmcore;
for await (const _ of Bun.file(vmcore).stream());
const kdump = join(import.meta.dir, "..", "kdump.ts");
const ps = JSON.parse(await new Response(Bun.spawn([process.execPath, kdump, "analyze", vmcore, "ps", "--json"]).stdout).text()) as { tasks: { pid: number; task: string }[] };
const init = ps.tasks.find((t) => t.pid === 1)!.task.slice(2);

/** Our command, crash's spelling of it, and a drgn one-liner computing the same, when there is one. */
const COMMANDS: [string, string | null][] = [
  ["sym schedule", "prog.symbol('schedule')"],
  ["p jiffies", "prog['jiffies'].value_()"],
  ["struct task_struct.pid,comm init_task", "prog['init_task'].pid"],
  ["rd -64 init_task 4", "prog.read(prog['init_task'].address_, 32)"],
  ["whatis struct list_head", "prog.type('struct list_head')"],
  ["list -H modules", "list(list_for_each(prog['modules'].address_of_()))"],
  ["kmem -i", null],
  ["kmem -s", "list(for_each_slab_cache(prog))"],
  ["ps -m", null],
  ["runq", null],
  [`files ${init}`, null],
  ["mount", "list(for_each_mount(prog))"],
  ["net", "list(for_each_netdev(prog))"],
  ["foreach IN bt", null],
  ["vm 1", null],
  ["timer", null],
  ["irq -s", null],
];

/** crash starts in 10–100 s on this machine: time it on a sample of the commands only. */
const CRASH_SAMPLE = new Set(["sym schedule", "struct task_struct.pid,comm init_task", "kmem -s"]);

const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const dbg = peers ? await debugKernel(line) : undefined;
if (dbg) for await (const _ of Bun.file(dbg.vmlinux).stream());
console.log(`data commands on ${vmcore} (${(Bun.file(vmcore).size / 1e6).toFixed(0)} MB), cold start each; peers with ${dbg?.vmlinux ?? "(none)"}`);
console.log(`load average ${(await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ")} on ${navigator.hardwareConcurrency} CPUs`);
console.log(`${"command".padEnd(40)} ${"ours".padStart(8)} ${"(cpu)".padStart(8)} ${"crash".padStart(8)} ${"drgn".padStart(8)}  ratios (wall)`);
let worst = 0;
let worstCpu = 0;
for (const [cmd, drgnExpr] of COMMANDS) {
  const ours: number[] = [];
  const cpus: number[] = [];
  for (let i = 0; i < 3; i++) {
    ours.push(await seconds([process.execPath, kdump, "analyze", vmcore, ...cmd.split(" ")]));
    cpus.push(lastCpu);
  }
  const mine = median(ours);
  const cpu = median(cpus);
  worst = Math.max(worst, mine);
  const crash = dbg && CRASH_SAMPLE.has(cmd) && PEER_CRASH_LINES.includes(line) ? await seconds([PEER_CRASH, "-s", dbg.vmlinux, vmcore], `${cmd}\nquit\n`).catch(() => undefined) : undefined;
  const drgnScript = `import drgn\nfrom drgn.helpers.linux import *\nprog = drgn.Program()\nprog.set_core_dump(${JSON.stringify(vmcore)})\nprog.load_debug_info([${JSON.stringify(dbg?.vmlinux ?? "")}], default=False)\n${drgnExpr}\n`;
  const drgn = dbg && drgnExpr ? await seconds(["/usr/bin/python3", "-c", drgnScript]).catch(() => undefined) : undefined;
  const f = (s?: number) => (s === undefined ? "-" : s.toFixed(3)).padStart(8);
  const ratio = [crash && `crash ${(crash / mine).toFixed(0)}x`, drgn && `drgn ${(drgn / mine).toFixed(0)}x`].filter(Boolean).join(", ");
  console.log(`${cmd.padEnd(40)} ${f(mine)} ${f(cpu)} ${f(crash)} ${f(drgn)}  ${ratio}`);
  worstCpu = Math.max(worstCpu, cpu);
}
console.log(`target: every command under 0.3 s from a cold start: ${worst < 0.3 ? "met" : `NOT met (slowest ${worst.toFixed(3)} s wall, ${worstCpu.toFixed(3)} s CPU)`}`);
