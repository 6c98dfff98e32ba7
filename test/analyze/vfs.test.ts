// files and mount on the sysrq lab dumps of every kernel line, against drgn 0.0.22 (and in the matrix drgn 0.3.0)
// reading the same dump with the -dbg vmlinux (crash 8.0.2 opens no 6.12 dump and finds no task but the idle and crashing ones on 6.1).
import { describe, expect, test } from "bun:test";
import { analyze } from "../../lib/analyze/command.ts";
import type { TaskFiles } from "../../lib/analyze/files.ts";
import { LINES, sysrqDump } from "../dump/_peers.ts";
import { DRGN_PEERS } from "../kernel/_sid.ts";
import { debugKernel } from "../kernel/_images.ts";

const LAB = 900_000;

const CASES = LINES.flatMap((line) => DRGN_PEERS.map(([version, drgnJson]) => ({ line, version, drgnJson })));

describe.each(CASES)("files and mount on $line against drgn $version", ({ line, drgnJson }) => {
  test("files 1 lists the fds, files, inodes and paths drgn finds", async () => {
    const vmcore = (await sysrqDump(line)).vmcore;
    const want = await drgnJson<[number, string, string, string][]>(
      (await debugKernel(line)).vmlinux,
      `t = find_task(prog, 1)
print(json.dumps([[fd, hex(f.value_()), hex(f.f_inode.value_()), d_path(f.f_path.address_of_()).decode()] for fd, f in for_each_file(t)]))`,
      vmcore,
    );
    const [files] = JSON.parse(analyze(vmcore, "files", { json: true, args: ["1"] }) as string) as TaskFiles[];
    expect(want.length).toBeGreaterThan(2);
    expect(files!.files.map((f) => [f.fd, "0x" + BigInt(f.file).toString(16), "0x" + BigInt(f.inode).toString(16), f.path])).toEqual(want);
    expect(files!.root).toBe("/");
  }, LAB);

  test("mount lists the mounts drgn lists: device, type and directory", async () => {
    const vmcore = (await sysrqDump(line)).vmcore;
    const want = await drgnJson<[string, string, string][]>(
      (await debugKernel(line)).vmlinux,
      // drgn 0.0.22's for_each_mount() predates 6.8's rb-tree of mounts: walk the namespace with its generic helpers.
      `ns = prog["init_task"].nsproxy.mnt_ns
try:
    ms = list(list_for_each_entry("struct mount", ns.list.address_of_(), "mnt_list"))
except AttributeError:
    ms = list(rbtree_inorder_for_each_entry("struct mount", ns.mounts.address_of_(), "mnt_node"))
print(json.dumps([[mount_src(m).decode(), mount_fstype(m).decode(), mount_dst(m).decode()] for m in ms]))`,
      vmcore,
    );
    const ours = JSON.parse(analyze(vmcore, "mount", { json: true }) as string) as { devname: string; type: string; dirname: string }[];
    expect(want.length).toBeGreaterThan(5);
    expect(ours.map((m) => [m.devname, m.type, m.dirname])).toEqual(want);
  }, LAB);
});
