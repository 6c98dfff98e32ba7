// `kdump config` as a user runs it, on a system tree under --root.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..", "..");
const kdump = (...args: string[]) => Bun.spawnSync([process.execPath, join(ROOT, "kdump.ts"), ...args], { cwd: ROOT, env: { ...process.env, KDUMP_DEBUG: "" } });
const sys = mkdtempSync(join(tmpdir(), "kdump-config-cli-"));
afterAll(() => rmSync(sys, { recursive: true, force: true }));
const tree = (files: Record<string, string>) => {
  const dir = mkdtempSync(join(sys, "root-"));
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(join(dir, p, ".."), { recursive: true });
    writeFileSync(join(dir, p), text);
  }
  return dir;
};

describe("kdump config", () => {
  test("--json names the file and line of each value and the winner of a conflict", () => {
    const root = tree({
      "etc/kdump.conf": "# dumps\npath /var/crash/x\ncore_collector makedumpfile -c -d 1\nfinal_action poweroff\n",
      "etc/default/kdump-tools": "KDUMP_COREDIR=/srv/crash\nKDUMP_NUM_DUMPS=2\n",
    });
    const r = kdump("config", "--json", "--root", root);
    expect(r.exitCode).toBe(0);
    const j = JSON.parse(r.stdout.toString());
    expect(j.sources).toEqual(["/etc/default/kdump-tools", "/etc/kdump.conf"]);
    expect(j.settings.target).toEqual({ value: { kind: "dir", path: "/var/crash/x" }, from: "/etc/kdump.conf:2", file: "/etc/kdump.conf", line: 2 });
    expect(j.settings.codec).toMatchObject({ value: "zlib", file: "/etc/kdump.conf", line: 3 });
    expect(j.settings.dumpLevel).toMatchObject({ value: 1, file: "/etc/kdump.conf", line: 3 });
    expect(j.settings.finalAction).toMatchObject({ value: "poweroff", from: "/etc/kdump.conf:4" });
    expect(j.settings.keep).toMatchObject({ value: 2, from: "/etc/default/kdump-tools:2" });
    expect(j.settings.failureAction).toEqual({ value: "reboot", from: "default", file: null, line: null });
    expect(j.conflicts).toContainEqual({ key: "target", winner: "/etc/kdump.conf:2", overridden: [{ from: "/etc/default/kdump-tools:1", value: { kind: "dir", path: "/srv/crash" } }] });
    expect(j.unsupported).toEqual([]);
  });

  test("text output: one line per setting with its place; an unsupported setting is named with its directive", () => {
    const r = kdump("config", "--root", tree({ "etc/kdump.conf": "raw /dev/vdb\n", "etc/default/kdump-tools": "HOSTTAG=ip\n" }));
    expect(r.exitCode).toBe(0);
    const out = r.stdout.toString();
    expect(out).toMatch(/^target +\/dev\/vdb +\/etc\/kdump\.conf:1$/m);
    expect(out).toContain("not supported yet: /etc/default/kdump-tools:1: HOSTTAG=ip is not supported yet");
    expect(out).not.toContain("(raw) is not supported yet");
  });

  test("a bad directive is one line with the file, the line and what to do, and exit 1", () => {
    const r = kdump("config", "--root", tree({ "etc/kdump.conf": "path /var/crash\nfence_kdump_nodes n1\n" }));
    expect(r.exitCode).toBe(1);
    expect(r.stderr.toString().trim().split("\n")).toEqual([expect.stringMatching(/^kdump: \/etc\/kdump\.conf:2: fence_kdump_nodes n1: not supported: fence_kdump .* not implemented by this toolkit$/)]);
  });
});
