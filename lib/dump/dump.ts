// The one random-access interface every dump reader implements (ELF /proc/vmcore, kdump-compressed,
// flattened): physical pages by address, ELF-style notes, and the VMCOREINFO text. Readers know bytes only.

/** A note from the dump (ELF PT_NOTE, or the compressed format's notes/vmcoreinfo blocks). */
export interface DumpNote {
  /** Note owner, e.g. "CORE" or "VMCOREINFO". */
  name: string;
  /** Note type, e.g. 1 for NT_PRSTATUS. */
  type: number;
  /** The descriptor bytes (a view, not a copy). */
  desc: Uint8Array;
}

/** A run of physical memory the dump holds. */
export interface PhysRange {
  /** First physical address. */
  start: bigint;
  /** One past the last physical address. */
  end: bigint;
}

/** A dump opened for reading. Reads never load the whole file into memory. */
export interface Dump {
  /** "elf", "kdump" (makedumpfile compressed) or "flat" (makedumpfile -F). */
  readonly format: string;
  /** Path of the file, for messages. */
  readonly path: string;
  /** Page size in bytes (4096 on x86_64). */
  readonly pageSize: number;
  /** The crashed machine as uname -m names it ("x86_64", "aarch64"), when the file says (lib/arch maps it). */
  readonly machine?: string;
  /** All notes, in file order (NT_PRSTATUS per CPU, then VMCOREINFO). */
  readonly notes: DumpNote[];
  /** The VMCOREINFO text, or null when the dump has none. */
  readonly vmcoreinfo: string | null;
  /** The physical ranges present in the dump (excluded pages of a filtered dump are not). */
  readonly ranges: PhysRange[];
  /**
   * Reads `length` bytes of physical memory at `paddr`. Throws FaultError for memory the dump does not hold
   * (excluded by filtering, or outside RAM), unless `zeroFill` asks for zeros there.
   */
  readPhys(paddr: bigint, length: number, zeroFill?: boolean): Uint8Array;
  /** Releases the file. */
  close(): void;
}
