// ELF notes as /proc/vmcore and makedumpfile's note block hold them: NT_PRSTATUS per CPU ("CORE") and the
// VMCOREINFO text note. Shared by the ELF and kdump-compressed readers.
import { DumpFormatError } from "../errors.ts";
import type { DumpNote } from "./dump.ts";
import { le } from "./source.ts";

/** Note type of a CPU's saved registers (struct elf_prstatus). */
export const NT_PRSTATUS = 1;

/**
 * Splits a block of ELF notes ({u32 namesz; u32 descsz; u32 type; name; desc}, each padded to 4 bytes).
 * Zero padding at the end is allowed (the kernel sizes the note segment generously). `base` is the block's
 * file offset, for messages.
 */
export function parseNotes(block: Uint8Array, base = 0): DumpNote[] {
  const notes: DumpNote[] = [];
  const r = le(block);
  let pos = 0;
  while (pos + 12 <= block.length) {
    const namesz = r.u32(pos);
    const descsz = r.u32(pos + 4);
    const type = r.u32(pos + 8);
    if (namesz === 0 && descsz === 0 && type === 0) break; // padding
    const nameAt = pos + 12;
    // sizes are u32 from the file: compare before aligning, so 0xffffffff cannot wrap the arithmetic
    if (namesz > block.length - nameAt || descsz > block.length - nameAt - align4(namesz))
      throw new DumpFormatError(`ELF note with namesz ${namesz} and descsz ${descsz} runs past its ${block.length}-byte note segment`, {
        offset: base + pos,
        hint: "the dump's notes are corrupted; try another copy of the dump",
      });
    const descAt = nameAt + align4(namesz);
    const end = Math.min(descAt + align4(descsz), block.length);
    let name = new TextDecoder().decode(block.subarray(nameAt, nameAt + namesz));
    name = name.replace(/\0+$/, "");
    notes.push({ name, type, desc: block.subarray(descAt, descAt + descsz) });
    pos = end;
  }
  return notes;
}

/** The VMCOREINFO text among `notes` (trailing NULs removed), or null. */
export function vmcoreinfoText(notes: DumpNote[]): string | null {
  const n = notes.find((x) => x.name === "VMCOREINFO");
  return n ? new TextDecoder().decode(n.desc).replace(/\0+$/, "") : null;
}

/** `n` rounded up to a multiple of 4, in double arithmetic (`& ~3` would wrap above 2^31). */
function align4(n: number): number {
  return Math.ceil(n / 4) * 4;
}
