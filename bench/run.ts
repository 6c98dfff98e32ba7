// Runs every benchmark in turn (each prints `ours X, peer Y, ratio Z` on the same input in one run).
// Run: bun bench/run.ts [name…]   e.g. bun bench/run.ts log bt
import { readdirSync } from "node:fs";
import { join } from "node:path";

const all = readdirSync(import.meta.dir).filter((f) => f.endsWith(".ts") && f !== "run.ts").map((f) => f.slice(0, -3)).sort();
const chosen = process.argv.length > 2 ? process.argv.slice(2) : all;
let failed = 0;
for (const name of chosen) {
  if (!all.includes(name)) {
    console.error(`bench: no benchmark ${name} (have: ${all.join(", ")})`);
    process.exit(2);
  }
  console.log(`== ${name}`);
  const r = Bun.spawnSync([process.execPath, join(import.meta.dir, `${name}.ts`)], { stdout: "inherit", stderr: "inherit" });
  if (r.exitCode !== 0) failed++;
}
process.exit(failed ? 1 : 0);
