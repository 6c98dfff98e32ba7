// Guest side of test/lab/kexec_load.test.ts (copied to /lab/kexec_load_job.ts in the guest): loads a capture kernel
// through the library with --syscall file|load|auto semantics and prints what the test checks. `kdump load` has no
// --syscall option yet; this calls the same functions it will.
// usage: bun kexec_load_job.ts file|load|auto|corrupt KERNEL INITRD CMDLINE
import { planCrashImage } from "/opt/kdump/lib/capture/crash_image.ts";
import { readCrashMachine } from "/opt/kdump/lib/capture/crash_machine.ts";
import { corePhdrs } from "/opt/kdump/lib/capture/elfcorehdr.ts";
import { loadCaptureWithKexecLoad, loadState, loadWithChoice, loadWithKexecLoad } from "/opt/kdump/lib/capture/load_segments.ts";
import { errorLine } from "/opt/kdump/lib/errors.ts";
import { kexecFileLoad } from "/opt/kdump/lib/sys/kexec.ts";
import { readFileSync } from "node:fs";

const [mode, kernel, initrd, cmdline] = process.argv.slice(2) as [string, string, string, string];
const hex = (x: bigint) => `0x${x.toString(16)}`;
try {
  if (mode === "corrupt") {
    // Plan as usual, then change one initrd byte after the purgatory recorded its digest: the purgatory must halt.
    const machine = readCrashMachine();
    const plan = planCrashImage({ kernel: new Uint8Array(readFileSync(kernel)), initrd: new Uint8Array(readFileSync(initrd)), cmdline, machine });
    plan.segments.find((s) => s.name === "initrd")!.data[100]! ^= 0xff;
    loadWithKexecLoad(plan, undefined, loadState());
    console.log("LOADED-WITH load");
  } else {
    const used = loadWithChoice(
      mode as "file" | "load" | "auto",
      () => kexecFileLoad({ kernel, initrd, cmdline, crash: true }),
      () => void loadCaptureWithKexecLoad({ kernel, initrd, cmdline }),
    );
    if (used === "load") for (const p of corePhdrs(readCrashMachine())) console.log(`OURS ${p.type === 1 ? "LOAD" : "NOTE"} ${hex(p.paddr)} ${hex(p.vaddr)} ${hex(p.size)}`);
    console.log(`LOADED-WITH ${used}`);
  }
} catch (e) {
  console.log(`kdump: ${errorLine(e)}`);
  process.exit(1);
}
