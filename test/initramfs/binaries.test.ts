// The host programs packed into the capture initramfs: their libraries read from the ELF files, against ldd.
import { expect, test } from "bun:test";
import { $ } from "bun";
import { realpathSync } from "node:fs";
import { findProgram, programFiles } from "../../lib/initramfs/binaries.ts";

test.each(["lvm", "mdadm", "mke2fs", "busybox"])("programFiles(%s) lists the libraries ldd lists", async (name) => {
  const p = findProgram(name);
  if (!p) return; // lvm2 and mdadm come with `kdump lab setup`
  const out = (await $`ldd ${p}`.quiet().nothrow()).stdout.toString();
  const ldd = [...out.matchAll(/=>\s+(\/\S+)|^\s+(\/\S+)\s+\(/gm)].map((m) => realpathSync(m[1] ?? m[2]!));
  const ours = programFiles(p).slice(1).map(([, src]) => src);
  expect(new Set(ours)).toEqual(new Set(ldd));
});
