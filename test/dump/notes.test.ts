// ELF notes from hostile bytes: sizes near 2^32 are a DumpFormatError naming the note's file offset in every
// format, never a JavaScript RangeError (issue 18: namesz ≥ 0x7fffffff printed "byteOffset cannot be negative").
import { describe, expect, test } from "bun:test";
import { DumpFormatError } from "../../lib/errors.ts";
import { parseNotes } from "../../lib/dump/notes.ts";
import { openSource } from "../../lib/dump/open.ts";
import { FileSource, le } from "../../lib/dump/source.ts";
import { makedumpfileOutput, sysrqDump } from "./_peers.ts";
import { leBytes, PatchedSource } from "./_patched.ts";

const LAB = 900_000; // building a lab dump boots QEMU

/** One note {namesz, descsz, type, name, desc} followed by padding. */
function note(namesz: number, descsz: number): Uint8Array {
  const b = new Uint8Array(64);
  const v = new DataView(b.buffer);
  v.setUint32(0, namesz, true);
  v.setUint32(4, descsz, true);
  v.setUint32(8, 1, true);
  b.set(new TextEncoder().encode("CORE"), 12);
  return b;
}

describe("parseNotes()", () => {
  test.each([0x7fffffff, 0x80000000, 0xfffffffd, 0xffffffff])("namesz %d is a DumpFormatError at the note's offset", (namesz) => {
    expect(() => parseNotes(note(namesz, 4), 0x1000)).toThrow(DumpFormatError);
    expect(() => parseNotes(note(namesz, 4), 0x1000)).toThrow(/namesz \d+ .* runs past its 64-byte note segment \(at 0x1000\)/);
  });

  test.each([0x7fffffff, 0xffffffff])("descsz %d is a DumpFormatError too", (descsz) => {
    expect(() => parseNotes(note(5, descsz))).toThrow(DumpFormatError);
  });

  test("a note ending exactly at the segment's end, unpadded, is read", () => {
    const b = note(5, 3).subarray(0, 12 + 8 + 3);
    expect(parseNotes(b).map((n) => [n.name, n.desc.length])).toEqual([["CORE", 3]]);
  });
});

describe("hostile notes in lab dumps", () => {
  test.each([0x7fffffff, 0xffffffff])("ELF vmcore whose first note has namesz %d: one DumpFormatError", async (namesz) => {
    const { vmcore } = await sysrqDump("6.1");
    const src = new FileSource(vmcore);
    const eh = le(src.read(0, 64));
    const ph = le(src.read(eh.num(32), eh.u16(56) * 56));
    let noteAt = -1;
    let noteSize = 0;
    for (let i = 0; i < eh.u16(56); i++)
      if (ph.u32(i * 56) === 4 && noteAt < 0) [noteAt, noteSize] = [ph.num(i * 56 + 8), ph.num(i * 56 + 32)]; // p_offset, p_filesz
    expect(noteAt).toBeGreaterThan(0);
    let err: unknown;
    try {
      openSource(new PatchedSource(src, [{ offset: noteAt, bytes: leBytes(namesz, 4) }]), vmcore);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DumpFormatError);
    expect((err as DumpFormatError).summary()).toBe(
      `ELF note with namesz ${namesz} and descsz 336 runs past its ${noteSize}-byte note segment (at 0x${noteAt.toString(16)}): the dump's notes are corrupted; try another copy of the dump`,
    );
    src.close();
  }, LAB);

  test("makedumpfile -c output whose note block starts with namesz 0xffffffff: one DumpFormatError", async () => {
    const file = await makedumpfileOutput((await sysrqDump("6.1")).vmcore, "c");
    const src = new FileSource(file);
    const bs = le(src.read(0, 464)).i32(428);
    const noteAt = le(src.read(bs, 104)).num(48);
    expect(() => openSource(new PatchedSource(src, [{ offset: noteAt, bytes: leBytes(0xffffffff, 4) }]), file)).toThrow(DumpFormatError);
    src.close();
  }, LAB);
});
