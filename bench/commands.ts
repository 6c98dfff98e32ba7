// The data commands from a cold start on one lab dump (sysrq, ~850 MB): each `kdump analyze VMCORE CMD` as its own
// process (no debuginfo), against the same command in crash (with the -dbg vmlinux; a run of crash per command,
// its startup included, as a user pays it, on a sample of the commands) and drgn for the commands drgn has a helper
// for. Peers: Debian 12's crash 8.0.2 (KDUMP_PEER_CRASH; reads 6.1 only) and drgn 0.0.22 by default; with --sid,
// crash 9.0.2 and drgn 0.3.0 run in the lab's sid root (chroot + bind mounts: a few ms of their time is that).
// Each of ours is run 3 times, the median kept. With --compiled, ours is the single binary `npm run build` makes
// (dist/kdump, built here when missing), as a user installs it. Run: bun bench/commands.ts [6.1|6.12] [--no-peers]
// [--sid] [--compiled]
import { basename, dirname, join } from "node:path";
import { sidRoot } from "../lib/lab/sid_root.ts";
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
const sid = process.argv.includes("--sid");
const vmcore = (await sysrqDump(line)).vmcore;
for await (const _ of Bun.file(vmcore).stream());
const kdump = join(import.meta.dir, "..", "kdump.ts");
const compiled = join(import.meta.dir, "..", "dist", "kdump");
if (process.argv.includes("--compiled") && !(await Bun.file(compiled).exists())) await Bun.$`npm run build`.cwd(join(import.meta.dir, "..")).quiet();
const oursArgv = process.argv.includes("--compiled") ? [compiled] : [process.execPath, kdump];
const ps = JSON.parse(await new Response(Bun.spawn([process.execPath, kdump, "analyze", vmcore, "ps", "--json"]).stdout).text()) as { tasks: { pid: number; task: string }[] };
const init = ps.tasks.find((t) => t.pid === 1)!.task.slice(2);

/** argv run in the sid root with the dump's and the vmlinux's folders bound at /host/dump and /host/vmlinux. */
async function inSidArgv(argv: string[], vmlinux: string): Promise<string[]> {
  const { dir } = await sidRoot();
  const mounts = [`mount -t proc proc ${dir}/proc`, `mkdir -p ${dir}/host/dump ${dir}/host/vmlinux`, `mount --bind ${dirname(vmcore)} ${dir}/host/dump`, `mount --bind ${dirname(vmlinux)} ${dir}/host/vmlinux`];
  const inner = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ");
  return ["unshare", "-m", "--propagation", "private", "sh", "-c", `${mounts.join(" && ")} && exec chroot ${dir} ${inner}`];
}

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
  ["dev -d", null],
  ["sig 1", null],
  ["ps -l", null],
  ["log -T", null],
  ["log -m", "list(get_printk_records(prog))"],
  ["bt -f 1", "prog.stack_trace(find_task(prog, 1))"],
  [`kmem ${init}`, `slab_object_info(prog, ${"0x" + init})`],
  ["dis panic", null],
];

/** crash starts in 10–100 s on this machine: time it on a sample of the commands only. */
const CRASH_SAMPLE = new Set(["sym schedule", "struct task_struct.pid,comm init_task", "kmem -s"]);

const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const dbg = peers ? await debugKernel(line) : undefined;
const [crashLabel, drgnLabel] = sid ? ["crash 9.0.2", "drgn 0.3.0"] : ["crash 8.0.2", "drgn 0.0.22"];
const crashReads = sid || PEER_CRASH_LINES.includes(line);
if (dbg) for await (const _ of Bun.file(dbg.vmlinux).stream());
console.log(`ours: ${oursArgv.join(" ")}`);
console.log(`data commands on ${vmcore} (${(Bun.file(vmcore).size / 1e6).toFixed(0)} MB), cold start each; peers ${dbg ? `${crashLabel} and ${drgnLabel} with ${dbg.vmlinux}` : "(none)"}`);
console.log(`load average ${(await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ")} on ${navigator.hardwareConcurrency} CPUs`);
console.log(`${"command".padEnd(40)} ${"ours".padStart(8)} ${"(cpu)".padStart(8)} ${"crash".padStart(8)} ${"drgn".padStart(8)}  ratios (wall)`);
let worst = 0;
let worstCpu = 0;
for (const [cmd, drgnExpr] of COMMANDS) {
  const ours: number[] = [];
  const cpus: number[] = [];
  for (let i = 0; i < 3; i++) {
    ours.push(await seconds([...oursArgv, "analyze", vmcore, ...cmd.split(" ")]));
    cpus.push(lastCpu);
  }
  const mine = median(ours);
  const cpu = median(cpus);
  worst = Math.max(worst, mine);
  const crashArgv = (v: string, d: string) => (sid ? ["crash", "-s", `/host/vmlinux/${basename(v)}`, `/host/dump/${basename(d)}`] : [PEER_CRASH, "-s", v, d]);
  const crash = dbg && CRASH_SAMPLE.has(cmd) && crashReads ? await seconds(sid ? await inSidArgv(crashArgv(dbg.vmlinux, vmcore), dbg.vmlinux) : crashArgv(dbg.vmlinux, vmcore), `${cmd}\nquit\n`).catch(() => undefined) : undefined;
  const [core, vml] = sid && dbg ? [`/host/dump/${basename(vmcore)}`, `/host/vmlinux/${basename(dbg.vmlinux)}`] : [vmcore, dbg?.vmlinux ?? ""];
  const drgnScript = `import drgn\nfrom drgn.helpers.linux import *\nprog = drgn.Program()\nprog.set_core_dump(${JSON.stringify(core)})\nprog.load_debug_info([${JSON.stringify(vml)}], default=False)\n${drgnExpr}\n`;
  const python = ["/usr/bin/python3", "-c", drgnScript];
  const drgn = dbg && drgnExpr ? await seconds(sid ? await inSidArgv(python, dbg.vmlinux) : python).catch(() => undefined) : undefined;
  const f = (s?: number) => (s === undefined ? "-" : s.toFixed(3)).padStart(8);
  const ratio = [crash && `crash ${(crash / mine).toFixed(0)}x`, drgn && `drgn ${(drgn / mine).toFixed(0)}x`].filter(Boolean).join(", ");
  console.log(`${cmd.padEnd(40)} ${f(mine)} ${f(cpu)} ${f(crash)} ${f(drgn)}  ${ratio}`);
  worstCpu = Math.max(worstCpu, cpu);
}
console.log(`target: every command under 0.3 s from a cold start: ${worst < 0.3 ? "met" : `NOT met in wall time (slowest ${worst.toFixed(3)} s)`}; in CPU time (what a loaded machine does not inflate): ${worstCpu < 0.3 ? "met" : "NOT met"} (slowest ${worstCpu.toFixed(3)} s)`);
