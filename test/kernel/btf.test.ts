// BTF parsed from the .BTF section of Debian's real kernels, checked member by member against the DWARF of the
// same build read by drgn (the -dbg package). Corner cases (unknown kinds, bad headers) on small hand-made BTF.
import { describe, expect, test } from "bun:test";
import { Btf, BtfKind } from "../../lib/kernel/btf.ts";
import { BadDataError, MissingDataError } from "../../lib/errors.ts";
import { ElfImage } from "./_elfimage.ts";
import { debugKernel, strippedVmlinux } from "./_images.ts";
import { drgnJson } from "./_drgn.ts";

/** Structures the analysis walks; each line's members are compared in full (nested anonymous members too). */
const STRUCTS = ["task_struct", "thread_struct", "module", "list_head", "pt_regs", "mod_kallsyms", "signal_struct", "page", "mod_arch_specific", "rq"];

/** drgn: every named member (through anonymous ones) as [name, bit_offset, bit_field_size]. */
const ORACLE = `
out = {}
def walk(t, base, acc):
    for m in t.members:
        if m.name is None:
            walk(m.type.unqualified(), base + m.bit_offset, acc)
        else:
            acc.append([m.name, base + m.bit_offset, m.bit_field_size or 0])
for s in ${JSON.stringify(STRUCTS)}:
    acc = []
    walk(prog.type("struct " + s), 0, acc)
    out[s] = {"size": drgn.sizeof(prog.type("struct " + s)), "members": acc}
print(json.dumps(out))
`;

describe.each(["6.1", "6.12"])("Btf on Debian %s", (line) => {
  test("Btf() parses the whole .BTF section of the stripped vmlinux", async () => {
    const btf = new Btf(new ElfImage((await strippedVmlinux(line)).path).section(".BTF"));
    expect(btf.unknownKind).toBeUndefined();
    expect(btf.count).toBeGreaterThan(50_000);
    expect(btf.kind(btf.struct("task_struct"))).toBe(BtfKind.STRUCT);
  }, 120_000);

  test("Btf.field() gives every member offset and bitfield width drgn reads from DWARF", async () => {
    const btf = new Btf(new ElfImage((await strippedVmlinux(line)).path).section(".BTF"));
    const dbg = await debugKernel(line);
    const want = await drgnJson<Record<string, { size: number; members: [string, number, number][] }>>(dbg.vmlinux, ORACLE);
    let compared = 0;
    for (const s of STRUCTS) {
      expect(btf.sizeof(s)).toBe(want[s]!.size);
      for (const [name, bitOffset, bitSize] of want[s]!.members) {
        const f = btf.field(s, name);
        expect([s, name, f.bitOffset, f.bitSize]).toEqual([s, name, bitOffset, bitSize]);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(400);
  }, 300_000);

  test("Btf.field() follows a dotted path and enumValue() reads enumerators", async () => {
    const btf = new Btf(new ElfImage((await strippedVmlinux(line)).path).section(".BTF"));
    const dbg = await debugKernel(line);
    const want = await drgnJson<{ sp: number; online: number }>(
      dbg.vmlinux,
      `print(json.dumps({"sp": drgn.offsetof(prog.type("struct task_struct"), "thread.sp"), "online": prog.constant("CPUHP_ONLINE").value_()}))`,
    );
    expect(btf.offsetof("task_struct", "thread.sp")).toBe(want.sp);
    expect(btf.enumValue("CPUHP_ONLINE")).toBe(BigInt(want.online));
    expect(btf.enumValue("NO_SUCH_ENUMERATOR_X")).toBeUndefined();
  }, 120_000);
});

/** A BTF blob from type records (each a list of u32) and a string table. */
function blob(types: number[][], strings: string): Uint8Array {
  const t = new Uint32Array(types.flat());
  const s = new TextEncoder().encode(strings);
  const out = new Uint8Array(24 + t.byteLength + s.length);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, 0xeb9f, true); // magic (2)
  out[2] = 1; // version (1)
  dv.setUint32(4, 24, true); // hdr_len (4)
  dv.setUint32(8, 0, true); // type_off (4)
  dv.setUint32(12, t.byteLength, true); // type_len (4)
  dv.setUint32(16, t.byteLength, true); // str_off (4)
  dv.setUint32(20, s.length, true); // str_len (4)
  out.set(new Uint8Array(t.buffer), 24);
  out.set(s, 24 + t.byteLength);
  return out;
}

const info = (kind: number, vlen: number, kflag = 0) => ((kflag << 31) | (kind << 24) | vlen) >>> 0;

describe("Btf corner cases", () => {
  // strings: 0 "", 1 "int", 5 "s", 7 "a", 9 "b", 11 "u"
  const strings = "\0int\0s\0a\0b\0u\0";
  const int = [1, info(BtfKind.INT, 0), 4, 32];
  // struct s { int a; union { int b; }; } with a kind_flag bitfield b:3 at bit 35 inside the anonymous union
  const union = [0, info(BtfKind.UNION, 1, 1), 4, 9, 1, (3 << 24) | 3];
  const struct = [5, info(BtfKind.STRUCT, 2), 8, 7, 1, 0, 0, 2, 32];

  test("Btf.field() finds a bitfield inside an anonymous union", () => {
    const btf = new Btf(blob([int, union, struct], strings));
    expect(btf.field("s", "b")).toEqual({ offset: 4, bitOffset: 35, bitSize: 3, type: 1 });
    expect(btf.offsetof("s", "a")).toBe(0);
  }, 60_000);

  test("Btf() stops at an unknown kind and says so when a later type is asked for", () => {
    const btf = new Btf(blob([int, [11, info(25, 0), 0], struct], strings));
    expect(btf.unknownKind).toEqual({ id: 2, kind: 25 });
    expect(btf.count).toBe(2);
    expect(() => btf.struct("s")).toThrow(MissingDataError);
    expect(() => btf.struct("s")).toThrow(/unknown kind 25/);
  }, 60_000);

  test("a type of kind 0 mid-table (a fuzz case's flipped info word) is called corruption, not a new kernel", () => {
    const btf = new Btf(blob([int, [11, info(0, 0), 0], struct], strings));
    expect(btf.unknownKind).toEqual({ id: 2, kind: 0 });
    let hint = "";
    try {
      btf.struct("s");
    } catch (e) {
      hint = (e as MissingDataError).hint ?? "";
    }
    expect(hint).toContain("corrupted");
    expect(hint).not.toContain("newer");
  }, 60_000);

  test("Btf() rejects a bad magic and sections past the end", () => {
    expect(() => new Btf(new Uint8Array(24))).toThrow(BadDataError);
    const b = blob([int], strings);
    new DataView(b.buffer).setUint32(20, 9999, true);
    expect(() => new Btf(b)).toThrow(/run past/);
  }, 60_000);
});
