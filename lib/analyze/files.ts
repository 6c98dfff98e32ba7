// `files PID|TASK`: a task's root and working directory and its open files (fd, struct file, dentry, inode, type,
// path), from task->fs and task->files->fdt through BTF, as crash prints them.
import { UsageError } from "../errors.ts";
import type { Kernel } from "../kernel/kernel.ts";
import type { KernelObject } from "../kernel/object.ts";
import { forEachTask, readTask } from "../kernel/tasks.ts";
import { dentryPath, fileType } from "../kernel/vfs.ts";
import type { AnalyzeCommand, AnalyzeContext } from "./command.ts";
import { hexJson, typedKernel } from "./_typed.ts";

/** One open file. */
export interface OpenFile {
  fd: number;
  /** Addresses (hex) of the struct file, its dentry and inode. */
  file: string;
  dentry: string;
  inode: string;
  /** REG DIR CHR BLK FIFO SOCK LNK. */
  type: string;
  path: string;
}

/** A task's files. */
export interface TaskFiles {
  pid: number;
  task: string;
  cpu: number;
  comm: string;
  root: string;
  cwd: string;
  files: OpenFile[];
}

/** The task a PID or task address names. */
export function findTask(k: Kernel, arg: string): KernelObject {
  const prog = k.program;
  const addr = /^(0x)?[0-9a-f]{12,16}$/i.test(arg) ? BigInt(arg.startsWith("0x") ? arg : "0x" + arg) : undefined;
  for (const a of forEachTask(prog)) {
    if (addr !== undefined ? a === addr : /^\d+$/.test(arg) && readTask(prog, a).pid === Number(arg)) return k.object(a, "struct task_struct");
  }
  throw new UsageError(`no task ${arg} in the dump`, { hint: "give a PID or a task address from ps" });
}

const mountOf = (k: Kernel, path: KernelObject) => k.containerOf(path.member("mnt").integer(), "struct mount", "mnt");

/**
 * The open files of `task`.
 * @example taskFiles(k, findTask(k, "1")).files.map((f) => f.path)
 */
export function taskFiles(k: Kernel, task: KernelObject): TaskFiles {
  const t = readTask(k.program, task.address!);
  const fs = task.member("fs");
  const pathOf = (p: KernelObject) => dentryPath(k, p.member("dentry").deref(), mountOf(k, p));
  const out: TaskFiles = { pid: t.pid, task: hexJson(t.task), cpu: t.cpu, comm: t.comm, root: "", cwd: "", files: [] };
  if (!fs.isNull()) {
    out.root = pathOf(fs.member("root"));
    out.cwd = pathOf(fs.member("pwd"));
  }
  const files = task.member("files");
  if (files.isNull()) return out;
  const fdt = files.member("fdt").deref();
  const max = fdt.member("max_fds").number();
  const fd = fdt.member("fd");
  for (let i = 0; i < max; i++) {
    const f = fd.index(i);
    if (f.isNull()) continue;
    const file = f.deref();
    const dentry = file.member("f_path.dentry").deref();
    const inode = file.member("f_inode");
    out.files.push({
      fd: i,
      file: hexJson(file.address!),
      dentry: hexJson(dentry.address!),
      inode: hexJson(inode.integer()),
      type: inode.isNull() ? "" : fileType(inode.member("i_mode").number()),
      path: pseudoName(dentry, inode) ?? pathOf(file.member("f_path")),
    });
  }
  return out;
}

/** The names d_dname() makes for pipes, sockets and anonymous inodes ("pipe:[1234]"), which have no path. */
function pseudoName(dentry: KernelObject, inode: KernelObject): string | undefined {
  if (inode.isNull()) return undefined;
  const fsType = dentry.member("d_sb").member("s_type").member("name").string(32);
  const ino = inode.member("i_ino").integer();
  if (fsType === "pipefs") return `pipe:[${ino}]`;
  if (fsType === "sockfs") return `socket:[${ino}]`;
  if (fsType === "anon_inodefs") return `anon_inode:${dentry.member("d_name.name").string(64)}`;
  return undefined;
}

/** crash's files text. */
export function formatFiles(f: TaskFiles): string {
  const lines = [
    `PID: ${String(f.pid).padEnd(8)} TASK: ${f.task.slice(2)}  CPU: ${String(f.cpu).padEnd(4)} COMMAND: "${f.comm}"`,
    `ROOT: ${f.root}    CWD: ${f.cwd}`,
    " FD       FILE            DENTRY           INODE       TYPE PATH",
  ];
  for (const x of f.files) lines.push(`${String(x.fd).padStart(3)} ${x.file.slice(2)} ${x.dentry.slice(2)} ${x.inode.slice(2)} ${x.type.padEnd(4)} ${x.path}`);
  return lines.join("\n") + "\n";
}

/** `kdump analyze VMCORE files PID|TASK…`. */
export const filesCommand: AnalyzeCommand = {
  describe: "files PID|TASK: a task's root, cwd and open files with their paths",
  run: (ctx) => {
    const all = forTaskArgs(ctx, "files", taskFiles);
    return { data: all, text: all.map(formatFiles).join("\n") };
  },
};

/** What a per-task command (files, vm, sig) reads for each PID or task address it was given, in order. */
export function forTaskArgs<T>(ctx: AnalyzeContext, name: string, read: (k: Kernel, task: KernelObject) => T): T[] {
  const args = ctx.opts.args ?? [];
  if (!args.length) throw new UsageError(`${name} needs a PID or task address`, { hint: `${name} 1` });
  const k = typedKernel(ctx);
  return args.map((a) => read(k, findTask(k, a)));
}
