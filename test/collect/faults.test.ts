// The collector under faults, on a real lab dump: a full disk (a size-limited tmpfs in a private mount namespace,
// so nothing leaks to the host), a read-only target, a collector killed mid-write, a truncated source. Each must
// end with one `kdump: …` line and a non-zero exit (the killed one by its signal), and never leave a file named
// `vmcore`; an interrupted collection is reported as interrupted by `kdump status`, not "in progress".
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { $ } from "bun";
import { formatStatus, readStatus } from "../../lib/boot/status.ts";
import { unfinishedDumps } from "../../lib/collect/unfinished.ts";
import { sysrqDump } from "../dump/_peers.ts";

const KDUMP = join(import.meta.dir, "..", "..", "kdump.ts");
const LAB = 900_000; // building a lab dump boots QEMU
const tmp = mkdtempSync(join(tmpdir(), "faults-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs `kdump collect --from SRC --out MNT/crash` after `setup` (shell, in a private mount namespace on MNT). */
async function collectIn(src: string, setup: string): Promise<{ exit: number; stderr: string; files: string[]; reasons: string }> {
  const mnt = mkdtempSync(join(tmp, "mnt-"));
  const script = `
set -e
${setup}
set +e
${process.execPath} ${KDUMP} collect --from "$SRC" --out "$MNT/crash" --threads 0 --host fault 2>"$MNT.err"
echo "EXIT=$?"
find "$MNT" -type f -printf 'FILE %P %s\\n'
cat "$MNT"/crash/*/*.reason 2>/dev/null | sed 's/^/REASON /'
`;
  const r = await $`unshare -m sh -c ${script}`.env({ ...process.env, SRC: src, MNT: mnt }).quiet().nothrow();
  const out = r.stdout.toString();
  const stderr = existsSync(`${mnt}.err`) ? readFileSync(`${mnt}.err`, "utf8") : r.stderr.toString();
  return {
    exit: Number(/EXIT=(\d+)/.exec(out)?.[1] ?? -1),
    stderr,
    files: [...out.matchAll(/^FILE (\S+)/gm)].map((m) => m[1]!),
    reasons: [...out.matchAll(/^REASON (.*)$/gm)].map((m) => m[1]).join("\n"),
  };
}

/** The stderr lines that are errors: exactly one `kdump: …` line and no stack trace. */
function expectOneError(stderr: string): string {
  expect(stderr).not.toMatch(/^\s+at /m);
  const errors = stderr.split("\n").filter((l) => l.startsWith("kdump: "));
  expect(errors.length).toBe(1);
  return errors[0]!;
}

const complete = (files: string[]) => files.filter((f) => /(^|\/)vmcore(\.flat)?$/.test(f));

describe("collect under faults", () => {
  test("a full disk (8 MiB tmpfs): one error line, exit 1, a vmcore-incomplete with the ENOSPC reason, no vmcore", async () => {
    const { vmcore } = await sysrqDump("6.1");
    const r = await collectIn(vmcore, `mount -t tmpfs -o size=8m,mode=0700 tmpfs "$MNT"`);
    expect(r.exit).toBe(1);
    expect(expectOneError(r.stderr)).toMatch(/no space left|ENOSPC/);
    expect(complete(r.files)).toEqual([]);
    expect(r.files.some((f) => f.endsWith("vmcore-incomplete"))).toBe(true);
    expect(r.reasons).toMatch(/no space left|ENOSPC/);
  }, LAB);

  test("a read-only target: one error line naming it, exit 1, nothing written", async () => {
    const { vmcore } = await sysrqDump("6.1");
    const r = await collectIn(vmcore, `mount -t tmpfs -o size=64m tmpfs "$MNT"; mkdir "$MNT/crash"; mount -o remount,ro "$MNT"`);
    expect(r.exit).toBe(1);
    expect(expectOneError(r.stderr)).toMatch(/: read-only file system: remount it read-write/);
    expect(r.files).toEqual([]);
  }, LAB);

  test("a truncated source (the first 64 MiB of an ELF vmcore): one error line saying so, exit 1, no vmcore", async () => {
    const { vmcore } = await sysrqDump("6.1");
    const cut = join(tmp, "truncated.vmcore");
    await $`head -c ${64 << 20} ${vmcore} > ${cut}`.quiet();
    const r = await collectIn(cut, `mount -t tmpfs -o size=256m,mode=0700 tmpfs "$MNT"`);
    expect(r.exit).toBe(1);
    expect(expectOneError(r.stderr)).toMatch(/truncated|past the end|file has/);
    expect(complete(r.files)).toEqual([]);
  }, LAB);

  // issue 18: a killed collection's .reason still said "collection in progress" and nothing told the user later
  test("a killed collector leaves no vmcore, and status reports the dump as interrupted with its reason", async () => {
    const { vmcore } = await sysrqDump("6.1");
    const out = join(tmp, "killed");
    const p = Bun.spawn([process.execPath, KDUMP, "collect", "--from", vmcore, "--out", out, "--threads", "0", "--host", "fault"], { stdout: "ignore", stderr: "ignore" });
    const partial = () => (existsSync(out) ? readdirSync(out).map((d) => join(out, d, "vmcore-incomplete")).find((f) => existsSync(f) && statSync(f).size > 0) : undefined);
    for (let i = 0; i < 600 && !partial(); i++) await Bun.sleep(100);
    p.kill("SIGKILL");
    expect(await p.exited).not.toBe(0);
    const file = partial()!;
    expect(file).toBeDefined();
    expect(existsSync(file.replace(/-incomplete$/, ""))).toBe(false);
    expect(readFileSync(`${file}.reason`, "utf8")).toStartWith("collection in progress since ");
    const [d] = unfinishedDumps(out);
    expect(d).toMatchObject({ path: file, state: "interrupted" });
    expect(d!.reason).toContain("never finished");
    const status = formatStatus(readStatus({ root: join(tmp, "no-such-box"), crashDirs: [out] }));
    expect(status).toContain(`unfinished dump:    ${file}`);
    expect(status).toContain("interrupted: the collection started");
  }, LAB);
});

describe("unfinishedDumps()", () => {
  const box = (files: Record<string, string>) => {
    const root = mkdtempSync(join(tmp, "crash-"));
    for (const [p, v] of Object.entries(files)) {
      mkdirSync(dirname(join(root, p)), { recursive: true });
      writeFileSync(join(root, p), v);
    }
    return root;
  };

  test("a failure reason is 'failed'; a live collector on this boot is 'in progress'; another boot is 'interrupted'", () => {
    const root = box({
      "a/vmcore-incomplete": "x",
      "a/vmcore-incomplete.reason": "write failed: no space left on the device\n",
      "b/vmcore-incomplete": "xx",
      "b/vmcore-incomplete.reason": "collection in progress since 2026-12-01T09:00:00.000Z (pid 4242, boot 1111-2222)\n",
      "c/vmcore.flat-incomplete": "xxx",
      "c/vmcore.flat-incomplete.reason": "collection in progress since 2026-12-01T09:00:00.000Z (pid 4242, boot 3333-4444)\n",
      "d/vmcore": "done",
    });
    const got = unfinishedDumps(root, { bootId: "1111-2222", alive: (pid) => pid === 4242 });
    const by = Object.fromEntries(got.map((d) => [d.path.slice(root.length + 1), d.state]));
    expect(by).toEqual({ "a/vmcore-incomplete": "failed", "b/vmcore-incomplete": "in progress", "c/vmcore.flat-incomplete": "interrupted" });
    expect(got.find((d) => d.state === "failed")!.reason).toBe("write failed: no space left on the device");
    expect(unfinishedDumps(join(root, "missing"))).toEqual([]);
  });
});
