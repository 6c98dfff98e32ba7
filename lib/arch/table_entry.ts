// One 64-bit little-endian page-table entry read from a dump's physical memory: the step every architecture's walk
// repeats (x86_64 4/5-level, arm64 3-5 level).
import { FaultError } from "../errors.ts";
import type { Dump } from "../dump/dump.ts";

/** The entry at `paddr`, met while translating `vaddr`; FaultError when the table's page is not in the dump. */
export function tableEntry(dump: Dump, paddr: bigint, vaddr: bigint): bigint {
  try {
    const b = dump.readPhys(paddr, 8);
    return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
  } catch (e) {
    if (e instanceof FaultError) throw new FaultError("page table of this address is not in the dump", vaddr);
    throw e;
  }
}
