// The capture /init text: busybox sh must parse it (sh -n), and the paths it embeds survive shell quoting.
// What it does when a capture kernel runs it is proven in test/lab/load.test.ts.
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $ } from "bun";
import { captureInit, COLLECTOR_MIN_KIB } from "../../lib/initramfs/init.ts";

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

test("captureInit() runs the collector with the given arguments, else with its defaults (kdump format, -d 31, zstd)", () => {
  expect(captureInit(base)).toContain(`COLLECT_ARGS=''`);
  expect(captureInit({ ...base, collectArgs: ["--level", "31"] })).toContain(`COLLECT_ARGS='--level 31'`);
});
