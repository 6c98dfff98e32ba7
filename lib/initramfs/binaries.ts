// Dynamically linked programs of the host (lvm, mdadm) for the capture initramfs: the program, its ELF
// interpreter and every shared library its DT_NEEDED entries name (recursively), each at its own path, so the
// dynamic loader finds them as on the host. Read from the ELF files themselves: no ldd needed. ELF64 little-endian.
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { BadDataError, MissingDataError } from "../errors.ts";

/** Where the loader looks for libraries on Debian/Ubuntu (multiarch) and Fedora/RHEL (lib64). */
export const LIBRARY_DIRS = ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"];

/** An ELF file's interpreter (PT_INTERP) and the libraries it names (DT_NEEDED), in order. */
export function elfNeeds(bytes: Uint8Array): { interp: string | null; needed: string[] } {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 64 || v.getUint32(0, false) !== 0x7f454c46 || bytes[4] !== 2 || bytes[5] !== 1) throw new BadDataError("not an ELF64 little-endian file");
  const phoff = Number(v.getBigUint64(0x20, true)); // e_phoff (8)
  const phentsize = v.getUint16(0x36, true); // e_phentsize (2)
  const phnum = v.getUint16(0x38, true); // e_phnum (2)
  // Elf64_Phdr: p_type (4) @0, p_flags (4) @4, p_offset (8) @8, p_vaddr (8) @16, p_paddr (8) @24, p_filesz (8) @32
  const ph = Array.from({ length: phnum }, (_, i) => {
    const o = phoff + i * phentsize;
    return { type: v.getUint32(o, true), offset: Number(v.getBigUint64(o + 8, true)), vaddr: Number(v.getBigUint64(o + 16, true)), filesz: Number(v.getBigUint64(o + 32, true)) };
  });
  const cstr = (o: number) => new TextDecoder().decode(bytes.subarray(o, bytes.indexOf(0, o)));
  const interpSeg = ph.find((p) => p.type === 3); // PT_INTERP
  const dyn = ph.find((p) => p.type === 2); // PT_DYNAMIC
  const needed: number[] = [];
  let strtab = 0;
  if (dyn) {
    // Elf64_Dyn: d_tag (8), d_val (8)
    for (let o = dyn.offset; o + 16 <= dyn.offset + dyn.filesz; o += 16) {
      const tag = Number(v.getBigInt64(o, true));
      const val = Number(v.getBigUint64(o + 8, true));
      if (tag === 0) break; // DT_NULL
      if (tag === 1) needed.push(val); // DT_NEEDED
      if (tag === 5) strtab = val; // DT_STRTAB (a virtual address)
    }
  }
  const load = ph.find((p) => p.type === 1 && strtab >= p.vaddr && strtab < p.vaddr + p.filesz); // PT_LOAD holding it
  const strOff = load ? strtab - load.vaddr + load.offset : 0;
  return { interp: interpSeg ? cstr(interpSeg.offset) : null, needed: load ? needed.map((n) => cstr(strOff + n)) : [] };
}

/**
 * The files a program needs: itself, its interpreter and its libraries, as [path in the image, host file].
 * @example programFiles("/usr/sbin/lvm").map(([p]) => p) // ["usr/sbin/lvm", "lib64/ld-linux-x86-64.so.2", "lib/x86_64-linux-gnu/libdevmapper-event.so.1.02.1", …]
 */
export function programFiles(program: string, dirs = LIBRARY_DIRS): [string, string][] {
  if (!existsSync(program)) throw new MissingDataError(`${program} not found`);
  const out = new Map<string, string>();
  const visit = (path: string) => {
    if (out.has(path)) return;
    out.set(path, realpathSync(path));
    const { interp, needed } = elfNeeds(readFileSync(path));
    if (interp && !out.has(interp)) out.set(interp, realpathSync(interp));
    for (const lib of needed) {
      const found = dirs.map((d) => `${d}/${lib}`).find((p) => existsSync(p));
      if (!found) throw new MissingDataError(`${program} needs ${lib}, which is in none of ${dirs.join(", ")}`, { hint: "reinstall the package that owns it" });
      visit(found);
    }
  };
  visit(program);
  return [...out].map(([p, src]) => [p.replace(/^\//, ""), src]);
}

/** The first of `names` found in the usual sbin/bin folders, or null. */
export function findProgram(...names: string[]): string | null {
  for (const n of names) for (const d of ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]) if (existsSync(`${d}/${n}`)) return `${d}/${n}`;
  return null;
}
