// Opens any dump by its signature through a table of formats (ELF, kdump-compressed, flattened), the way
// msgpack's ExtensionCodec registers types: a new format is one file plus one `dumpFormats` entry.
import { statSync } from "node:fs";
import { DumpFormatError } from "../errors.ts";
import type { Dump } from "./dump.ts";
import { ElfDump, isElf } from "./elf.ts";
import { FlatSource, isFlattened } from "./flattened.ts";
import { isKdumpCompressed, KdumpDump } from "./kdump_compressed.ts";
import { FileSource, type ByteSource } from "./source.ts";

/** A dump format: how to recognise its first bytes and how to open it. */
export interface DumpFormat {
  /** Its name, as Dump.format reports it. */
  name: string;
  /** True when the file's first bytes (up to 4096) carry this format's signature. */
  sniff(head: Uint8Array): boolean;
  /** Opens the format over `src`. */
  open(src: ByteSource, path: string): Dump;
}

/** The formats openDump() knows, tried in order. */
export const dumpFormats: DumpFormat[] = [
  { name: "elf", sniff: isElf, open: (src, path) => new ElfDump(src, path) },
  { name: "kdump", sniff: isKdumpCompressed, open: (src, path) => new KdumpDump(src, path) },
  { name: "flat", sniff: isFlattened, open: openFlattened },
];

/**
 * Opens a crash dump of any known format. Throws DumpFormatError (one line, with a hint) for anything else.
 * @example const dump = openDump("/var/crash/202501011200/dump.202501011200"); dump.vmcoreinfo
 */
export function openDump(path: string): Dump {
  const st = statSync(path);
  if (st.isDirectory()) throw new DumpFormatError(`${path} is a directory`, { hint: "give the vmcore file inside it" });
  if (st.size === 0) throw new DumpFormatError(`${path} is empty`, { hint: "the capture wrote nothing; check the capture kernel's console" });
  const src = new FileSource(path);
  try {
    return openSource(src, path);
  } catch (e) {
    src.close();
    throw e;
  }
}

/** Opens a dump held by any ByteSource (tests use BufferSource). */
export function openSource(src: ByteSource, path: string): Dump {
  const head = src.read(0, Math.min(4096, src.size));
  const format = dumpFormats.find((f) => f.sniff(head));
  if (!format)
    throw new DumpFormatError(`${path} is not a crash dump`, { hint: "expected an ELF vmcore or makedumpfile output (KDUMP or flattened signature)" });
  return format.open(src, path);
}

/** A flattened file: index its records, then open the reassembled bytes as ELF or kdump-compressed. */
function openFlattened(src: ByteSource, path: string): Dump {
  const flat = new FlatSource(src, path);
  const head = flat.read(0, Math.min(4096, flat.size));
  if (isKdumpCompressed(head)) return new KdumpDump(flat, path, "flat");
  if (isElf(head)) return new ElfDump(flat, path, "flat");
  throw new DumpFormatError(`${path}: flattened data holds neither a KDUMP nor an ELF dump`, { hint: "the flattened dump is corrupted" });
}
