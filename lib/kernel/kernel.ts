// The typed kernel of a dump, for recipes and one-liners: variables by name, types by C spelling, objects at
// addresses, per-CPU variables and the task list, all from the dump alone (kallsyms for addresses, BTF for types,
// the well-known table for globals BTF leaves untyped). drgn's Program, without debuginfo.
import type { Dump } from "../dump/dump.ts";
import { openDump } from "../dump/open.ts";
import { MissingDataError, UsageError } from "../errors.ts";
import { KernelObject, containerOf } from "./object.ts";
import { openKernel as openKernelView } from "./open.ts";
import { perCpuOffset, nrCpuIds } from "./percpu.ts";
import { KernelProgram, type ProgramOptions } from "./program.ts";
import { forEachTask } from "./tasks.ts";
import { KernelType, parseType } from "./types.ts";
import type { KernelView } from "./view.ts";
import { WELL_KNOWN_TYPES } from "./well_known.ts";

/**
 * Opens the dump at `path` (any format kdump reads) as a typed kernel. Close it with `k.close()`.
 * @example const k = await openKernel("/var/crash/vmcore"); k.var("init_task").member("comm").string() // "swapper/0"
 */
export async function openKernel(path: string, opts: ProgramOptions = {}): Promise<Kernel> {
  const dump = openDump(path);
  try {
    return new Kernel(new KernelProgram(openKernelView(dump), opts));
  } catch (e) {
    dump.close();
    throw e;
  }
}

/** A crashed kernel with types. */
export class Kernel {
  private readonly types = new Map<string, KernelType>();

  constructor(
    /** Symbols, BTF and unwind tables underneath. */
    readonly program: KernelProgram,
  ) {}

  /** The kernel's virtual memory. */
  get view(): KernelView {
    return this.program.view;
  }

  /** The dump underneath. */
  get dump(): Dump {
    return this.view.dump;
  }

  /**
   * The type spelled `name`: "struct task_struct", "unsigned long", "struct list_head *", "u64".
   * @example k.type("struct task_struct").member("comm").offset
   */
  type(name: string): KernelType {
    let t = this.types.get(name);
    if (!t) this.types.set(name, (t = parseType(this.program.btf, this.expandBounds(name))));
    return t;
  }

  /**
   * The global or per-CPU variable `name` as an object. Its type is `type` when given (a cast), else BTF's
   * (per-CPU variables; the object is then CPU 0's copy, see perCpu()), else the well-known table's;
   * `obj.typeSource` says which. MissingDataError for a symbol with no known type.
   * @example k.var("jiffies").value(); k.var("init_task").typeSource // "well-known"
   */
  var(name: string, type?: KernelType | string): KernelObject {
    const addr = this.program.sym(name);
    if (type !== undefined) return new KernelObject(this.view, typeof type === "string" ? this.type(type) : type, addr, "cast");
    // The table first: it names no per-CPU variable, and looking it up costs nothing, while BTF's VAR index is a
    // scan of every type.
    const known = WELL_KNOWN_TYPES[name];
    if (known !== undefined) return new KernelObject(this.view, this.type(known), addr, "well-known");
    if (this.program.btf.variables().has(name)) return this.perCpu(name, 0);
    throw new MissingDataError(`the kernel's BTF gives no type for ${name}`, {
      hint: `BTF types only per-CPU variables and kdump knows ${name}'s type from no table: give one, k.var("${name}", "TYPE")`,
    });
  }

  /** Where the type of variable `name` comes from, or undefined when it has none without a cast. */
  varTypeSource(name: string): "btf" | "well-known" | undefined {
    if (WELL_KNOWN_TYPES[name] !== undefined) return "well-known";
    return this.program.btf.variables().has(name) ? "btf" : undefined;
  }

  /**
   * CPU `cpu`'s copy of per-CPU variable `name` (type from BTF, or `type`).
   * @example k.perCpu("runqueues", 1).member("nr_running").value()
   */
  perCpu(name: string, cpu: number, type?: KernelType | string): KernelObject {
    const id = this.program.btf.variables().get(name);
    if (id === undefined && type === undefined) throw new MissingDataError(`${name} is not a per-CPU variable in the kernel's BTF`, { hint: `give its type: k.perCpu("${name}", cpu, "TYPE")` });
    const t = type === undefined ? new KernelType(this.program.btf, id!) : typeof type === "string" ? this.type(type) : type;
    const addr = (this.program.sym(name) + perCpuOffset(this.program, cpu)) & 0xffffffffffffffffn;
    return new KernelObject(this.view, t, addr, type === undefined ? "btf" : "cast");
  }

  /** How many CPU numbers the kernel used (nr_cpu_ids): per-CPU variables exist for 0 … nrCpus-1. */
  get nrCpus(): number {
    return nrCpuIds(this.program);
  }

  /**
   * The object of `type` at `address`.
   * @example k.object(0xffffffff82a1d5c0n, "struct task_struct").member("pid").value()
   */
  object(address: bigint, type: KernelType | string): KernelObject {
    return new KernelObject(this.view, typeof type === "string" ? this.type(type) : type, address, "cast");
  }

  /** The struct of `type` embedding what `ptr` points at as `member` (container_of). */
  containerOf(ptr: KernelObject | bigint, type: string, member: string): KernelObject {
    if (typeof ptr === "bigint") return new KernelObject(this.view, this.type(type), ptr - BigInt(this.type(type).member(member).offset), "btf");
    return containerOf(ptr, this.type(type), member);
  }

  /** Address of symbol `name` (kallsyms). */
  symbol(name: string): bigint {
    return this.program.sym(name);
  }

  /**
   * Every task (each CPU's idle task, then each process and its threads) as a `struct task_struct`.
   * @example for (const t of k.forEachTask()) console.log(t.member("pid").value(), t.member("comm").string())
   */
  *forEachTask(): Generator<KernelObject> {
    const t = this.type("struct task_struct");
    for (const a of forEachTask(this.program)) yield new KernelObject(this.view, t, a, "btf");
  }

  /** Closes the dump. */
  close(): void {
    this.dump.close();
  }

  /** Replaces array bounds spelled as constants ("[NR_VM_ZONE_STAT_ITEMS]", "[NR_CPUS]") by their values. */
  private expandBounds(name: string): string {
    return name.replace(/\[([A-Z_][A-Z0-9_]*)\]/g, (_m, c: string) => `[${this.constant(c)}]`);
  }

  /** A kernel constant: an enumerator of BTF, or NR_CPUS / MAX_NUMNODES from the width of cpumask / nodemask_t. */
  constant(name: string): number {
    const btf = this.program.btf;
    if (name === "NR_CPUS") return this.type("struct cpumask").member("bits").type.length * 64;
    if (name === "MAX_NUMNODES") return this.type("nodemask_t").member("bits").type.length * 64;
    const v = btf.enumValue(name);
    if (v === undefined) throw new UsageError(`no constant ${name} in the kernel's BTF enums`);
    return Number(v);
  }
}
