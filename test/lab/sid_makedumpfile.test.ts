// sid's makedumpfile copied out of the sid root with its loader and libraries (lib/lab/sid_makedumpfile.ts), as
// bench/scale.ts puts it into a guest: run from a plain folder on the host, it is 1.7.8 with zstd, and the dump it
// writes is read by our analyze. Matrix only: the sid root is a ~2-12 minute debootstrap.
import { describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { tmpdir } from "node:os";
import { $ } from "bun";
import { analyze } from "../../lib/analyze/command.ts";
import { sidMakedumpfile } from "../../lib/lab/sid_makedumpfile.ts";
import { MATRIX } from "../_matrix.ts";
import { sysrqDump } from "../dump/_peers.ts";

describe.skipIf(!MATRIX)("sidMakedumpfile()", () => {
  test("the copied program runs outside the sid root: 1.7.8, zstd enabled, a -z -d 31 dump our bt reads", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kdump-mdf-"));
    try {
      const m = await sidMakedumpfile(join(dir, "mdf"));
      expect(Object.keys(m.files).some((p) => p.endsWith("/lib/libc.so.6"))).toBe(true);
      for (const [to, from] of Object.entries(m.files)) {
        mkdirSync(dirname(to), { recursive: true });
        copyFileSync(from, to);
      }
      const argv = m.command.split(" ");
      const version = await $`${argv} -v`.quiet().nothrow();
      expect(version.stdout.toString() + version.stderr.toString()).toMatch(/version 1\.7\.8[\s\S]*zstd\s+enabled/);
      const { vmcore } = await sysrqDump("6.1");
      const out = join(dir, "vmcore.z");
      const r = await $`${argv} -z -d 31 ${vmcore} ${out}`.quiet().nothrow();
      expect(r.exitCode).toBe(0);
      expect(analyze(out, "bt")).toContain("sysrq_handle_crash");
      // glibc dlopens libgcc_s for pthread_exit: a guest without it aborted --num-threads at 100% (the host has one,
      // so only the file list shows it here; the proof is bench/scale.ts --cpus 2 in a guest)
      expect(Object.keys(m.files).some((p) => p.endsWith("/lib/libgcc_s.so.1"))).toBe(true);
      const threaded = join(dir, "vmcore.z2");
      const t = await $`${argv} --num-threads 2 -z -d 31 ${vmcore} ${threaded}`.quiet().nothrow();
      expect(t.exitCode).toBe(0);
      expect(analyze(threaded, "bt")).toContain("sysrq_handle_crash");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 1_200_000);
});
