// Flattened device trees (Devicetree Specification v0.4, ch. 5; version 17): parsed into nodes and properties,
// and written back. An arm64 capture kernel boots with the running system's DTB (/sys/firmware/fdt) plus, in
// /chosen, linux,elfcorehdr and linux,usable-memory-range (where the old kernel's core header is and which memory
// the capture kernel may use), bootargs and the initrd's place, as kexec-tools' arm64 loader sets them. Big-endian.

/** A device tree node. */
export interface FdtNode {
  /** Node name with unit address ("memory@40000000"); "" for the root. */
  name: string;
  /** Properties in file order: name → raw value. */
  props: Map<string, Uint8Array>;
  children: FdtNode[];
}

/** A parsed device tree blob. */
export interface Fdt {
  root: FdtNode;
  /** The memory reservation block's (address, size) pairs. */
  reserved: [bigint, bigint][];
  /** boot_cpuid_phys of the header. */
  bootCpu: number;
}

const MAGIC = 0xd00dfeed;
const BEGIN_NODE = 1;
const END_NODE = 2;
const PROP = 3;
const NOP = 4;
const END = 9;

/**
 * Parses a DTB (version 16 or 17). RangeError for a blob that is not one or is cut short.
 * @example parseFdt(readFileSync("/sys/firmware/fdt")).root.children.map((n) => n.name)
 */
export function parseFdt(b: Uint8Array): Fdt {
  if (b.length < 40) throw new RangeError(`device tree blob of ${b.length} bytes is shorter than its 40-byte header`);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (v.getUint32(0) !== MAGIC) throw new RangeError(`not a device tree blob: magic 0x${v.getUint32(0).toString(16)}, expected 0xd00dfeed`);
  const total = v.getUint32(4);
  if (total > b.length) throw new RangeError(`device tree blob says ${total} bytes but ${b.length} are there`);
  const structAt = v.getUint32(8);
  const stringsAt = v.getUint32(12);
  const rsvAt = v.getUint32(16);
  const reserved: [bigint, bigint][] = [];
  for (let o = rsvAt; ; o += 16) {
    const addr = v.getBigUint64(o);
    const size = v.getBigUint64(o + 8);
    if (addr === 0n && size === 0n) break;
    reserved.push([addr, size]);
  }
  const str = (off: number) => {
    const s = stringsAt + off;
    return new TextDecoder().decode(b.subarray(s, b.indexOf(0, s)));
  };
  let at = structAt;
  const align = () => (at = (at + 3) & ~3);
  const stack: FdtNode[] = [];
  let root: FdtNode | undefined;
  for (;;) {
    if (at + 4 > total) throw new RangeError("device tree structure block runs past the blob");
    const token = v.getUint32(at);
    at += 4;
    if (token === BEGIN_NODE) {
      const end = b.indexOf(0, at);
      const node: FdtNode = { name: new TextDecoder().decode(b.subarray(at, end)), props: new Map(), children: [] };
      at = end + 1;
      align();
      if (stack.length) stack[stack.length - 1]!.children.push(node);
      else root = node;
      stack.push(node);
    } else if (token === PROP) {
      const len = v.getUint32(at);
      const name = str(v.getUint32(at + 4));
      at += 8;
      stack[stack.length - 1]!.props.set(name, b.slice(at, at + len));
      at += len;
      align();
    } else if (token === END_NODE) stack.pop();
    else if (token === END) break;
    else if (token !== NOP) throw new RangeError(`device tree token ${token} at 0x${(at - 4).toString(16)} is not one the format has`);
  }
  if (!root) throw new RangeError("device tree has no root node");
  return { root, reserved, bootCpu: v.getUint32(28) };
}

/**
 * Writes `fdt` as a version 17 blob: header, memory reservations, structure, strings (names shared).
 * @example buildFdt(parseFdt(dtb)).length
 */
export function buildFdt(fdt: Fdt): Uint8Array {
  const enc = new TextEncoder();
  const strings: number[] = [];
  const offsets = new Map<string, number>();
  const nameOff = (n: string) => {
    let o = offsets.get(n);
    if (o === undefined) {
      o = strings.length;
      offsets.set(n, o);
      strings.push(...enc.encode(n), 0);
    }
    return o;
  };
  const st: number[] = [];
  const u32 = (x: number) => st.push((x >>> 24) & 255, (x >>> 16) & 255, (x >>> 8) & 255, x & 255);
  const pad = () => {
    while (st.length % 4) st.push(0);
  };
  const node = (n: FdtNode) => {
    u32(BEGIN_NODE);
    st.push(...enc.encode(n.name), 0);
    pad();
    for (const [k, val] of n.props) {
      u32(PROP);
      u32(val.length);
      u32(nameOff(k));
      for (const x of val) st.push(x);
      pad();
    }
    n.children.forEach(node);
    u32(END_NODE);
  };
  node(fdt.root);
  u32(END);
  const rsvAt = 40;
  const structAt = rsvAt + (fdt.reserved.length + 1) * 16;
  const stringsAt = structAt + st.length;
  const total = stringsAt + strings.length;
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  v.setUint32(0, MAGIC); // magic (4)
  v.setUint32(4, total); // totalsize (4)
  v.setUint32(8, structAt); // off_dt_struct (4)
  v.setUint32(12, stringsAt); // off_dt_strings (4)
  v.setUint32(16, rsvAt); // off_mem_rsvmap (4)
  v.setUint32(20, 17); // version (4)
  v.setUint32(24, 16); // last_comp_version (4)
  v.setUint32(28, fdt.bootCpu); // boot_cpuid_phys (4)
  v.setUint32(32, strings.length); // size_dt_strings (4)
  v.setUint32(36, st.length); // size_dt_struct (4)
  fdt.reserved.forEach(([a, s], i) => {
    v.setBigUint64(rsvAt + i * 16, a);
    v.setBigUint64(rsvAt + i * 16 + 8, s);
  });
  out.set(st, structAt);
  out.set(strings, stringsAt);
  return out;
}

/** The root's #address-cells and #size-cells (2 and 1 when absent, as the specification defaults). */
export function rootCells(fdt: Fdt): { address: number; size: number } {
  const cell = (n: string, d: number) => {
    const p = fdt.root.props.get(n);
    return p && p.length === 4 ? new DataView(p.buffer, p.byteOffset, 4).getUint32(0) : d;
  };
  return { address: cell("#address-cells", 2), size: cell("#size-cells", 1) };
}

/** An (address, size) pair encoded in the root's cells. */
export function regValue(fdt: Fdt, address: bigint, size: bigint): Uint8Array {
  const { address: ac, size: sc } = rootCells(fdt);
  const out = new Uint8Array((ac + sc) * 4);
  const v = new DataView(out.buffer);
  const put = (x: bigint, cells: number, at: number) => {
    for (let i = cells - 1; i >= 0; i--, x >>= 32n) v.setUint32(at + i * 4, Number(x & 0xffffffffn));
  };
  put(address, ac, 0);
  put(size, sc, ac * 4);
  return out;
}

/** What a capture kernel's /chosen gets. */
export interface CaptureChosen {
  /** Where the ELF core header sits, and its size. */
  elfcorehdr: [bigint, bigint];
  /** The memory the capture kernel may use (the crashkernel reservation). */
  usableMemory: [bigint, bigint];
  /** The capture command line. */
  bootargs: string;
  /** The initrd's [start, end), when there is one. */
  initrd?: [bigint, bigint];
}

/**
 * The running system's DTB with a capture kernel's /chosen: linux,elfcorehdr, linux,usable-memory-range, bootargs
 * and linux,initrd-start/end set; the old kernel's kaslr-seed and rng-seed dropped (a capture kernel runs nokaslr,
 * and a seed must not be reused), as kexec-tools does.
 * @example buildFdt(withCaptureChosen(parseFdt(readFileSync("/sys/firmware/fdt")), c))
 */
export function withCaptureChosen(fdt: Fdt, c: CaptureChosen): Fdt {
  const chosen = chosenOf(withKexecChosen(fdt, c));
  chosen.props.set("linux,elfcorehdr", regValue(fdt, ...c.elfcorehdr));
  chosen.props.set("linux,usable-memory-range", regValue(fdt, ...c.usableMemory));
  return fdt;
}

/**
 * The running system's DTB for a kernel staged with `kdump load --kexec`: /chosen's bootargs and initrd set; a
 * capture kernel's linux,elfcorehdr and linux,usable-memory-range, and the old kernel's kaslr-seed and rng-seed,
 * dropped (a seed must not be reused), as kexec-tools' arm64 `kexec -l` does.
 * @example buildFdt(withKexecChosen(parseFdt(readFileSync("/sys/firmware/fdt")), { bootargs: "console=ttyAMA0" }))
 */
export function withKexecChosen(fdt: Fdt, c: { bootargs: string; initrd?: [bigint, bigint] }): Fdt {
  const chosen = chosenOf(fdt);
  for (const p of ["linux,elfcorehdr", "linux,usable-memory-range", "linux,initrd-start", "linux,initrd-end", "kaslr-seed", "rng-seed"]) chosen.props.delete(p);
  chosen.props.set("bootargs", new Uint8Array([...new TextEncoder().encode(c.bootargs), 0]));
  if (c.initrd) {
    const u64 = (x: bigint) => {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigUint64(0, x);
      return b;
    };
    chosen.props.set("linux,initrd-start", u64(c.initrd[0]));
    chosen.props.set("linux,initrd-end", u64(c.initrd[1]));
  }
  return fdt;
}

/** The root's /chosen node, added when the tree has none. */
function chosenOf(fdt: Fdt): FdtNode {
  let chosen = fdt.root.children.find((n) => n.name === "chosen");
  if (!chosen) fdt.root.children.push((chosen = { name: "chosen", props: new Map(), children: [] }));
  return chosen;
}
