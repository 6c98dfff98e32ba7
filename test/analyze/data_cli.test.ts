// The data commands through the CLI: crash's own options reach the command (kmem -i, rd -32, list -H), --json
// prints data, bad input is one `kdump: …` line with a non-zero exit, and --help names the commands.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { sysrqDump } from "../dump/_peers.ts";

const KDUMP = join(import.meta.dir, "..", "..", "kdump.ts");
const LAB = 900_000;
const run = (...args: string[]) => {
  const r = Bun.spawnSync([process.execPath, KDUMP, ...args], { env: { ...process.env, KDUMP_DEBUG: "" } });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
};

describe("data commands on the CLI", () => {
  test("crash's options pass through to the command", async () => {
    const v = (await sysrqDump("6.12")).vmcore;
    const rd = run("analyze", v, "rd", "-32", "jiffies", "2");
    expect(rd.code).toBe(0);
    expect(rd.out).toMatch(/^[0-9a-f]{16}:  [0-9a-f]{8} [0-9a-f]{8} /);
    const kmem = run("analyze", v, "kmem", "-i");
    expect(kmem.out).toContain("TOTAL MEM");
    const list = run("analyze", v, "list", "-H", "modules", "--json");
    expect(JSON.parse(list.out).every((a: string) => /^0x[0-9a-f]{16}$/.test(a))).toBe(true);
  }, LAB);

  test("a type BTF does not have is one kdump: line and exit 2", async () => {
    const v = (await sysrqDump("6.12")).vmcore;
    const r = run("analyze", v, "struct", "no_such_struct", "init_task");
    expect(r.code).toBe(2);
    const inDump = (text: string) => new RegExp(`^kdump: ${v.replace(/[.+]/g, "\\$&")}: ${text}`); // errors name the dump
    expect(r.err.trim().split("\n")).toEqual([expect.stringMatching(inDump(`no type "struct no_such_struct" in the kernel's BTF: `))]);
    const p = run("analyze", v, "p", "saved_command_line");
    expect(p.code).toBe(1);
    expect(p.err).toMatch(inDump("the kernel's BTF gives no type for saved_command_line: "));
  }, LAB);

  test("analyze --help names the data commands", () => {
    const r = run("analyze", "--help");
    for (const c of ["struct", "kmem", "foreach", "runq", "files", "mount", "net", "whatis", "rd", "sym", "list"]) expect(r.out).toContain(`"${c}"`);
  });
});
