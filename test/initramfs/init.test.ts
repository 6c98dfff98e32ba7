// The capture /init text: busybox sh must parse it (sh -n), and the paths it embeds survive shell quoting.
// What it does when a capture kernel runs it is proven in test/lab/load.test.ts.
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $ } from "bun";
import { captureInit, collectorEntry, COLLECTOR_MIN_KIB } from "../../lib/initramfs/init.ts";

const base = { modules: ["virtio_ring.ko", "virtio_blk.ko"], target: "/var/crash", bun: "/usr/local/bin/bun", kdump: "/opt/kdump/kdump.ts", rootWaitSeconds: 30 };

test("captureInit() is a script busybox sh parses", async () => {
  const dir = mkdtempSync(join(tmpdir(), "kdump-init-"));
  try {
    writeFileSync(join(dir, "init"), captureInit(base));
    const r = await $`busybox sh -n ${join(dir, "init")}`.quiet().nothrow();
    expect(r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("captureInit() quotes the paths it embeds, so the shell reads them back unchanged", async () => {
  const odd = { ...base, target: "/srv/it's a dump dir", kdump: "/opt/k dump/kdump.ts" };
  const script = captureInit(odd).split("\n").filter((l) => /^(TARGET|KDUMP|MODULES|MIN_KB)=/.test(l)).join("\n");
  const r = await $`busybox sh -c ${`${script}\nprintf '%s|%s|%s|%s' "$TARGET" "$KDUMP" "$MODULES" "$MIN_KB"`}`.quiet();
  expect(r.stdout.toString()).toBe(`${odd.target}|${odd.kdump}|virtio_ring.ko virtio_blk.ko|${COLLECTOR_MIN_KIB}`);
});

test("captureInit() runs the collector's own entry beside kdump.ts (lib/collect/main.ts), kdump.ts when the root lacks it", async () => {
  expect(collectorEntry("/opt/k dump/kdump.ts")).toBe("/opt/k dump/lib/collect/main.ts");
  expect(collectorEntry("/usr/local/bin/kdump")).toBe("/usr/local/bin/kdump");
  const s = captureInit({ ...base, kdump: "/opt/k dump/kdump.ts" });
  expect(s).not.toContain(`"$KDUMP" collect`);
  expect(s).toContain(`chroot /sysroot "$BUN" "$COLLECTOR" collect --from /proc/vmcore`);
  // the choice, run by the shell against a root with and without the entry
  const vars = s.split("\n").filter((l) => /^(KDUMP|COLLECTOR)=/.test(l) || l.includes('COLLECTOR=$KDUMP')).join("\n");
  const root = mkdtempSync(join(tmpdir(), "kdump-init-root-"));
  try {
    const pick = async () => (await $`busybox sh -c ${vars.replaceAll("/sysroot", root) + '\nprintf %s "$COLLECTOR"'}`.quiet()).stdout.toString();
    expect(await pick()).toBe("/opt/k dump/kdump.ts");
    await $`mkdir -p ${root}/opt/k\ dump/lib/collect && touch ${root}/opt/k\ dump/lib/collect/main.ts`.quiet();
    expect(await pick()).toBe("/opt/k dump/lib/collect/main.ts");
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("captureInit() runs the collector with the given arguments, else with its defaults (kdump format, -d 31, zstd)", () => {
  expect(captureInit(base)).toContain(`COLLECT_ARGS=''`);
  expect(captureInit({ ...base, collectArgs: ["--level", "31"] })).toContain(`COLLECT_ARGS='--level 31'`);
});

test("captureInit() carries the config: collect arguments, hooks in order, failure and final actions, read back by the shell", async () => {
  const { loadConfig } = await import("../../lib/config/load.ts");
  const { captureSettings } = await import("../../lib/config/capture_settings.ts");
  const files: Record<string, string> = {
    "/etc/kdump.conf": "path /var/crash/x\ncore_collector makedumpfile -c -d 1 -F\nkdump_pre /usr/local/sbin/pre\nkdump_post /usr/local/sbin/post\nfailure_action shell\nfinal_action poweroff\n",
    "/etc/default/kdump-tools": "KDUMP_NUM_DUMPS=2\nKDUMP_DUMP_DMESG=0\n",
  };
  const c = loadConfig({ read: (p) => files[p] ?? null, list: (d) => (d === "/etc/kdump/post.d" ? ["10-a"] : null), mode: () => 0o100755 });
  const script = captureInit({ ...base, ...captureSettings(c) });
  const vars = script.split("\n").filter((l) => /^(TARGET|COLLECT_ARGS|PRE_HOOKS|POST_HOOKS|FAILURE_ACTION|FINAL_ACTION)=/.test(l)).join("\n");
  const r = await $`busybox sh -c ${`${vars}\nprintf '%s|' "$TARGET" "$COLLECT_ARGS" "$PRE_HOOKS" "$POST_HOOKS" "$FAILURE_ACTION" "$FINAL_ACTION"`}`.quiet();
  expect(r.stdout.toString().split("|")).toEqual([
    "/var/crash/x",
    "--level 1 --compress zlib --format flat --no-dmesg --keep 2",
    "/usr/local/sbin/pre",
    "/etc/kdump/post.d/10-a /usr/local/sbin/post",
    "shell",
    "poweroff",
    "",
  ]);
});

test("captureInit() defaults to reboot on failure and at the end, with no hooks", () => {
  const s = captureInit(base);
  expect(s).toContain("FAILURE_ACTION=reboot\nFINAL_ACTION=reboot\n");
  expect(s).toContain("PRE_HOOKS=''\nPOST_HOOKS=''\n");
});
