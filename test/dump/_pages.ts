// Real pages for codec tests: every `stride`-th 4 KiB page of the 6.1 sysrq lab dump (kernel text, data, page
// tables, free memory, zeros).
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { sysrqDump } from "./_peers.ts";

/** Every `stride`-th page of the 6.1 sysrq dump. */
export async function dumpPages(stride: number): Promise<Uint8Array[]> {
  const { vmcore } = await sysrqDump("6.1");
  const fd = openSync(vmcore, "r");
  const pages: Uint8Array[] = [];
  try {
    for (let off = 4096 * 3; off + 4096 <= fstatSync(fd).size; off += 4096 * stride) {
      const p = new Uint8Array(4096);
      readSync(fd, p, 0, 4096, off);
      pages.push(p);
    }
  } finally {
    closeSync(fd);
  }
  return pages;
}
