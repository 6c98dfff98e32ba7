// Assembles the purgatory (purgatory.s + sha256.s) into the flat binary purgatory.bin with GNU as and objcopy
// (binutils). `bun lib/arch/x86_64/purgatory/build.ts` rewrites purgatory.bin; test/arch/x86_64/purgatory.test.ts rebuilds
// it and checks the checked-in bytes are exactly what the source assembles to.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { $ } from "bun";
import { KdumpError } from "../../../errors.ts";

/** The folder holding the purgatory sources and purgatory.bin. */
export const PURGATORY_DIR = dirname(new URL(import.meta.url).pathname);

/**
 * Assembles `source` (default purgatory.s) from this folder and returns the flat binary of its .text section.
 * Throws when binutils is missing or the object has relocations (the code must be position independent).
 * @example (await assemble()).length // 6240
 */
export async function assemble(source = "purgatory.s"): Promise<Uint8Array> {
  const tmp = mkdtempSync(join(tmpdir(), "kdump-purgatory-"));
  try {
    const obj = join(tmp, "p.o");
    const bin = join(tmp, "p.bin");
    const as = await $`as --64 -I ${PURGATORY_DIR} -o ${obj} ${join(PURGATORY_DIR, source)}`.quiet().nothrow();
    if (as.exitCode !== 0) throw new KdumpError(`assembling ${source} failed: ${as.stderr.toString().trim()}`, { hint: "install binutils (apt-get install binutils)" });
    const rel = await $`readelf -r ${obj}`.quiet();
    if (!/There are no relocations/.test(rel.stdout.toString())) throw new KdumpError(`${source} has relocations: it must be position independent`);
    await $`objcopy -O binary -j .text ${obj} ${bin}`.quiet();
    return new Uint8Array(readFileSync(bin));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const bin = await assemble();
  writeFileSync(join(PURGATORY_DIR, "purgatory.bin"), bin);
  console.log(`purgatory.bin: ${bin.length} bytes, sha256 ${new Bun.CryptoHasher("sha256").update(bin).digest("hex")}`);
}
