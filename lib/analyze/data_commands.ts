// crash's data commands over the typed kernel (lib/kernel/kernel.ts), registered into analyzeCommands as one
// table: struct, union, p, rd, sym, whatis, list, kmem, foreach, runq, files, mount, net, vm, timer, swap, irq, sig, dev.
import type { AnalyzeCommand } from "./command.ts";
import { devCommand } from "./dev.ts";
import { filesCommand } from "./files.ts";
import { foreachCommand } from "./foreach.ts";
import { irqCommand } from "./irq.ts";
import { kmemCommand } from "./kmem.ts";
import { listCommand } from "./list.ts";
import { mountCommand } from "./mount.ts";
import { netCommand } from "./net.ts";
import { printCommand } from "./print.ts";
import { rdCommand } from "./rd.ts";
import { runqCommand } from "./runq.ts";
import { structCommand, unionCommand } from "./struct.ts";
import { sigCommand } from "./sig.ts";
import { swapCommand } from "./swap.ts";
import { symCommand } from "./sym.ts";
import { timerCommand } from "./timer.ts";
import { vmCommand } from "./vm.ts";
import { whatisCommand } from "./whatis.ts";

/** The data commands by crash's names. */
export const dataCommands: Record<string, AnalyzeCommand> = {
  struct: structCommand,
  union: unionCommand,
  p: printCommand,
  rd: rdCommand,
  sym: symCommand,
  whatis: whatisCommand,
  list: listCommand,
  kmem: kmemCommand,
  foreach: foreachCommand,
  runq: runqCommand,
  files: filesCommand,
  mount: mountCommand,
  net: netCommand,
  vm: vmCommand,
  timer: timerCommand,
  swap: swapCommand,
  irq: irqCommand,
  sig: sigCommand,
  dev: devCommand,
};
