// Guest side of test/lab/kexec_load.test.ts, copied to /opt/kdump/test/lab/ in the guest.
//   phdrs                           print the program headers our elfcorehdr gets on this machine (OURS lines)
//   corrupt KERNEL INITRD CMDLINE   load with kexec_load, then change one initrd byte after the purgatory
//                                   recorded its digest: a crash must stop in the purgatory
import { readFileSync } from "node:fs";
import { planCrashImage } from "../../lib/arch/x86_64/crash_image.ts";
import { readCrashMachine } from "../../lib/load/crash_machine.ts";
import { corePhdrs } from "../../lib/load/elfcorehdr.ts";
import { loadState, loadWithKexecLoad } from "../../lib/load/load_segments.ts";

const [mode, kernel, initrd, cmdline] = process.argv.slice(2) as [string, string, string, string];
const hex = (x: bigint) => `0x${x.toString(16)}`;
if (mode === "phdrs") {
  for (const p of corePhdrs(readCrashMachine())) console.log(`OURS ${p.type === 1 ? "LOAD" : "NOTE"} ${hex(p.paddr)} ${hex(p.vaddr)} ${hex(p.size)}`);
} else if (mode === "corrupt") {
  const plan = planCrashImage({ kernel: new Uint8Array(readFileSync(kernel)), initrd: new Uint8Array(readFileSync(initrd)), cmdline, machine: readCrashMachine() });
  const data = plan.segments.find((s) => s.name === "initrd")!.data;
  data[100] = data[100]! ^ 0xff;
  loadWithKexecLoad(plan, undefined, loadState());
  console.log("LOADED-CORRUPT");
}
