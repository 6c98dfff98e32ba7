// Preloaded into each fuzz case (`bun --preload`): at exit, the case writes its own VmHWM (kB, the peak RSS of its
// own memory since its exec) to the file KDUMP_FUZZ_PEAK names. A case that ends before the fuzzer's /proc polls
// see it is still measured by itself, not by its spawner's high-water mark (which a vfork'd child's ru_maxrss
// carries). Runs on process.exit() and on an uncaught error; a case killed by a signal writes nothing.
import { readFileSync, writeFileSync } from "node:fs";

const out = process.env.KDUMP_FUZZ_PEAK;
if (out) {
  process.on("exit", () => {
    try {
      const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
      if (kb) writeFileSync(out, kb);
    } catch {
      // no /proc: the polls are the measure
    }
  });
}
