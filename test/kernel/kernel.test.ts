// The typed kernel API on the lab dumps of every kernel line, no debuginfo: the @examples of kernel.ts, object.ts,
// types.ts and iterators.ts run here, and their values are checked against drgn reading the same dump with the
// -dbg vmlinux (DWARF types).
import { afterAll, describe, expect, test } from "bun:test";
import { openKernel, type Kernel } from "../../lib/kernel/kernel.ts";
import { hlistForEachEntry, listForEach, listForEachEntry, perCpuEach, rbtreeInorder, xarrayForEach } from "../../lib/kernel/iterators.ts";
import { containerOf } from "../../lib/kernel/object.ts";
import { LINES, sysrqDump } from "../dump/_peers.ts";
import { drgnJson } from "./_drgn.ts";
import { debugKernel } from "./_images.ts";

const LAB = 900_000;

interface Truth {
  jiffies: number;
  comm: string;
  pids: number[];
  modules: string[];
  release: string;
}

describe.each(LINES)("typed kernel on %s", (line) => {
  let k: Kernel | undefined;
  let truth: Promise<Truth> | undefined;
  const open = async () => (k ??= await openKernel((await sysrqDump(line)).vmcore));
  const drgn = async () =>
    (truth ??= (async () =>
      drgnJson<Truth>(
        (await debugKernel(line)).vmlinux,
        `print(json.dumps({"jiffies": prog["jiffies_64"].value_(), "comm": prog["init_task"].comm.string_().decode(), "pids": sorted(t.pid.value_() for t in for_each_task(prog)), "modules": [m.name.string_().decode() for m in list_for_each_entry("struct module", prog["modules"].address_of_(), "list")], "release": prog["init_uts_ns"].name.release.string_().decode()}))`,
        (await sysrqDump(line)).vmcore,
      ))());
  afterAll(() => k?.close());

  test("openKernel() reads init_task.comm and jiffies with their well-known types", async () => {
    const k = await open();
    const t = k.var("init_task");
    expect(t.member("comm").string()).toBe("swapper/0");
    expect(t.typeSource).toBe("well-known");
    expect(t.type.name).toBe("struct task_struct");
    expect(k.var("jiffies").value()).toBe(BigInt((await drgn()).jiffies));
    expect(k.var("init_uts_ns").member("name.release").string()).toBe((await drgn()).release);
  }, LAB);

  test("var() of a per-CPU variable takes its type from BTF; of an untyped global it says what is missing", async () => {
    const k = await open();
    expect(k.varTypeSource("runqueues")).toBe("btf");
    expect(k.var("runqueues").type.name).toBe("struct rq");
    expect(() => k.var("sysctl_sched_latency_not_a_symbol")).toThrow();
    expect(() => k.var("saved_command_line")).toThrow(/no type for saved_command_line/);
    const cmdline = k.var("saved_command_line", "char *");
    expect(cmdline.typeSource).toBe("cast");
    expect(cmdline.string()).toContain("crashkernel=256M");
  }, LAB);

  test("forEachTask() walks every task drgn walks, idle tasks first", async () => {
    const k = await open();
    const pids = [...k.forEachTask()].map((t) => t.member("pid").number());
    expect(pids.slice(0, k.nrCpus)).toEqual(Array(k.nrCpus).fill(0));
    const rest = pids.filter((p) => p !== 0).sort((a, b) => a - b);
    expect(rest).toEqual((await drgn()).pids.filter((p) => p !== 0));
  }, LAB);

  test("containerOf(), deref() and member() follow init_task.tasks to the first process", async () => {
    const k = await open();
    const first = containerOf(k.var("init_task").member("tasks.next"), "struct task_struct", "tasks");
    expect(first.member("comm").string()).toBe("init");
    expect(first.member("real_parent").deref().member("pid").value()).toBe(0n);
    expect(first.member("parent").member("comm").string()).toBe("swapper/0");
    expect(first.member("pid").addressOf().deref().number()).toBe(1);
  }, LAB);

  test("listForEachEntry() lists the modules drgn lists", async () => {
    const k = await open();
    expect([...listForEachEntry(k.var("modules"), "struct module", "list")].map((m) => m.member("name").string())).toEqual((await drgn()).modules);
  }, LAB);

  test("perCpuEach() and index() read each CPU's runqueue", async () => {
    const k = await open();
    const cpus = [...perCpuEach(k, "runqueues")].map(([cpu, rq]) => [cpu, rq.member("cpu").number()]);
    expect(cpus).toEqual(cpus.map(([c]) => [c, c]));
    expect(k.var("__per_cpu_offset").index(1).integer()).toBe(k.perCpu("runqueues", 1).address! - k.symbol("runqueues"));
  }, LAB);

  test("xarrayForEach() finds a struct pid for every task in init_pid_ns.idr", async () => {
    const k = await open();
    const nums = new Set<number>();
    for (const { entry } of xarrayForEach(k.var("init_pid_ns").member("idr.idr_rt"))) nums.add(k.object(entry, "struct pid").member("numbers").index(0).member("nr").number());
    expect([...nums].sort((a, b) => a - b)).toEqual((await drgn()).pids.filter((p) => p !== 0));
  }, LAB);

  test("hlistForEachEntry() walks a pid's tasks; rbtreeInorder() (6.8+) or listForEach() walks the namespace's mounts", async () => {
    const k = await open();
    const init = containerOf(k.var("init_task").member("tasks.next"), "struct task_struct", "tasks");
    const pid = init.member("thread_pid").deref();
    const users = [...hlistForEachEntry(pid.member("tasks").index(0), "struct task_struct", "pid_links")].map((t) => t.address);
    expect(users).toEqual([init.address]);
    const ns = k.var("init_task").member("nsproxy").member("mnt_ns").deref();
    // 6.8 moved a namespace's mounts from a list (count in `mounts`) to an rb-tree `mounts` (count in nr_mounts).
    const tree = !ns.has("list");
    const n = tree ? [...rbtreeInorder(ns.member("mounts"))].length : [...listForEach(ns.member("list"))].length;
    expect(n).toBe(ns.member(tree ? "nr_mounts" : "mounts").number());
    expect(n).toBeGreaterThan(5);
  }, LAB);

  test("type() spells C types and cast() reinterprets memory", async () => {
    const k = await open();
    expect(k.type("unsigned long").name).toBe("long unsigned int");
    expect(k.type("struct list_head *").target().name).toBe("struct list_head");
    expect(k.type("char [16]").size).toBe(16);
    expect(k.type("struct task_struct").member("comm").type.name).toBe("char [16]");
    const t = k.var("init_task");
    expect(k.object(t.address!, "struct task_struct").member("pid").value()).toBe(0n);
    expect(t.member("comm").cast("unsigned char [4]").value()).toEqual([115n, 119n, 97n, 112n]);
  }, LAB);
});
