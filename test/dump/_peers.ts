// Peer tools as oracles, with their outputs cached beside the lab dump they were made from: kexec-tools'
// vmcore-dmesg (the log), makedumpfile (-c, -l, -F at -d 31, and -R to reassemble), and our test writer's
// snappy/zstd files. Each is made once when absent, so CI builds them from nothing.
import { existsSync, readFileSync, renameSync } from "node:fs";
import { dirname, join } from "node:path";
import { $ } from "bun";
import { buildOnce } from "../../lib/lab/lock.ts";
import { openDump } from "../../lib/dump/open.ts";
import { kexecTools } from "../../lib/lab/peers.ts";
import { labDump, type LabDump } from "../lab/dumps.ts";
import { writeKdump, type CodecName } from "./_kdumpwriter.ts";

/** The kernel lines the lab crashes in every scenario. */
export const LINES = ["6.1", "6.12"] as const;

/** The lines added by issue 14, crashed with sysrq in the default run: bullseye's 5.10 and sid's newest (7.x). */
export const NEW_LINES = ["5.10", "newest"] as const;

/** A sysrq-c crash of `line` (2 CPUs, 1 GiB, 5-level paging). */
export const sysrqDump = (line: string): Promise<LabDump> => labDump({ line, scenario: "sysrq" });

/** The same crash on a CPU without la57: 4-level page tables. */
export const fourLevelDump = (line: string): Promise<LabDump> => labDump({ line, scenario: "sysrq-4level", la57: false });

/**
 * A crash after userspace wrote records with control bytes, bytes ≥ 0x80, a multi-line record and a long
 * one through /dev/kmsg, with chosen syslog levels and facilities.
 */
export const kmsgDump = (line: string): Promise<LabDump> =>
  labDump({
    line,
    scenario: "kmsg",
    prepare: [
      "printf '<12>kdump-test: ctrl \\001\\002\\033[1mbold\\033[0m del \\177 high \\377\\376 utf8 \\303\\251 tab\\there cr\\rend\\n' > /dev/kmsg",
      "printf '<30>kdump-test: first line\\nsecond line\\n\\nfourth after an empty one\\n' > /dev/kmsg",
      `printf '<11>kdump-test: long %s\\n' "$(head -c 900 /dev/zero | tr '\\0' x)" > /dev/kmsg`,
    ].join("\n"),
  });

/** Makes `path` once with `make(tmp)` (which must create tmp), atomically. */
async function cached(path: string, make: (tmp: string) => Promise<unknown> | unknown): Promise<string> {
  return buildOnce(path, () => (existsSync(path) ? path : undefined), async () => {
    const tmp = `${path}.tmp-${process.pid}`;
    await make(tmp);
    renameSync(tmp, path);
    return path;
  });
}

/** vmcore-dmesg's output (bytes) for `vmcore`; throws when it fails. */
export async function vmcoreDmesg(vmcore: string): Promise<Buffer> {
  const out = join(dirname(vmcore), `${basename(vmcore)}.vmcore-dmesg`);
  await cached(out, async (tmp) => {
    const { vmcoreDmesg } = await kexecTools();
    await $`${vmcoreDmesg} ${vmcore} > ${tmp}`.quiet();
  });
  return readFileSync(out);
}

/** Runs vmcore-dmesg on any file (not cached): its exit code and stdout bytes. */
export async function vmcoreDmesgRaw(file: string): Promise<{ exitCode: number; stdout: Buffer }> {
  const { vmcoreDmesg } = await kexecTools();
  const r = await $`${vmcoreDmesg} ${file}`.quiet().nothrow();
  return { exitCode: r.exitCode, stdout: r.stdout };
}

/** makedumpfile output for `vmcore` at -d 31: "c" zlib, "l" lzo, "F" flattened zlib (to stdout), "E" ELF. */
export async function makedumpfileOutput(vmcore: string, mode: "c" | "l" | "F" | "E"): Promise<string> {
  return cached(join(dirname(vmcore), `makedumpfile-${mode}-d31`), async (tmp) => {
    const r =
      mode === "F"
        ? await $`makedumpfile -F -c -d 31 ${vmcore} > ${tmp}`.quiet().nothrow()
        : await $`makedumpfile -${mode} -d 31 ${vmcore} ${tmp}`.quiet().nothrow();
    if (r.exitCode !== 0) throw new Error(`makedumpfile -${mode} failed (is makedumpfile installed?): ${r.stderr.toString().slice(-500)}`);
  });
}

/** makedumpfile -R: the flattened file reassembled into a regular one. */
export async function reassembled(flat: string): Promise<string> {
  return cached(`${flat}.R`, async (tmp) => {
    await $`makedumpfile -R ${tmp} < ${flat}`.quiet();
  });
}

/** Our test writer's kdump-compressed copy of `vmcore` with every page in `codec`. */
export async function ourKdump(vmcore: string, codec: CodecName): Promise<string> {
  return cached(join(dirname(vmcore), `ours-${codec}.kdump`), (tmp) => {
    const src = openDump(vmcore);
    try {
      writeKdump(src, tmp, { codec });
    } finally {
      src.close();
    }
  });
}

function basename(p: string): string {
  return p.slice(p.lastIndexOf("/") + 1);
}

/** Asserts `ours` (a string is taken as UTF-8) equals `peer` byte for byte; a mismatch names the first differing line. */
export function expectBytes(ours: string | Uint8Array, peer: Uint8Array): void {
  const a = Buffer.from(typeof ours === "string" ? new TextEncoder().encode(ours) : ours);
  const b = Buffer.from(peer);
  if (a.equals(b)) return;
  const al = a.toString("latin1").split("\n");
  const bl = b.toString("latin1").split("\n");
  const i = al.findIndex((l, n) => l !== bl[n]);
  throw new Error(`differs from the peer at line ${i + 1} (${a.length} vs ${b.length} bytes):\n ours: ${JSON.stringify(al[i])}\n peer: ${JSON.stringify(bl[i])}`);
}
