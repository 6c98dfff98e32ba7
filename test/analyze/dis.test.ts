// dis on the lab dumps of both kernel lines, no debuginfo, against two peers that read the -dbg vmlinux: crash
// 8.0.2's dis (gdb, AT&T, bytes from the dump) on 6.1, which cannot open 6.12, and binutils' objdump -M intel on
// the -dbg vmlinux on both lines at the KASLR-adjusted addresses (where the running kernel patched an instruction,
// ftrace's __fentry__ call or an alternative, the bytes differ from the file and only those are left out).
import { beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { $ } from "bun";
import { analyze } from "../../lib/analyze/command.ts";
import type { DisLine } from "../../lib/analyze/dis.ts";
import { attImmediates, disassemble, loadDisassembler } from "../../lib/kernel/disasm.ts";
import { LINES, sysrqDump } from "../dump/_peers.ts";
import { debugKernel, type DebugKernel } from "../kernel/_images.ts";
import { crashOutput } from "./_crash.ts";
import { normAtt, num, sameAtt } from "./_att.ts";

const LAB = 900_000;
const FUNCTIONS = ["sysrq_handle_crash", "__handle_sysrq", "panic"];

/** Intel syntax as objdump and Capstone print it, reduced the same way. */
export function normIntel(mnemonic: string, operands: string, slide: bigint): string {
  // prefixes (lock, rep) belong to the mnemonic; string instructions: objdump "stos ... es:[rdi]", Capstone "stosd ... [rdi]"
  const words = `${mnemonic} ${operands.replace(/#.*$/, "").replace(/<[^>]*>/g, "")}`.toLowerCase().trim().split(/\s+/);
  const at = words.findIndex((w) => !/^(lock|rep|repz|repe|repnz|repne|notrack|bnd)$/.test(w));
  mnemonic = words.slice(0, at + 1).join(" ").replace(/\b(stos|movs|lods|scas|cmps)[bwdq]$/, "$1");
  let ops = words.slice(at + 1).join("").replace(/[de]s:(\[r[sd]i\])/g, "$1");
  // objdump writes a branch target as bare hex at the file's address
  if (/^(call|j)/.test(mnemonic) && /^[0-9a-f]{16}$/.test(ops)) ops = "0x" + ops;
  // the running kernel's absolute addresses are the file's plus the KASLR slide
  ops = ops.replace(/0xffffffff[89a-f][0-9a-f]{7}\b/g, (a) => "0x" + (BigInt(a) + slide).toString(16));
  ops = ops.replace(/([c-gs]s):\[(0x[0-9a-f]+|\d+)\]/g, "$1:$2");
  ops = ops.replace(/\*1\b/g, "").replace(/\+0x0\]/g, "]").replace(/-?(0x[0-9a-f]+|\d+)/g, num);
  return `${mnemonic} ${ops}`;
}

function ours(vmcore: string, fn: string, intel = false): DisLine[] {
  return (JSON.parse(analyze(vmcore, "dis", { json: true, args: intel ? ["-i", fn] : [fn] })) as { instructions: DisLine[] }).instructions;
}

/** objdump's instructions of `fn` in the -dbg vmlinux: address (file), bytes hex, mnemonic, operands. */
async function objdump(dbg: DebugKernel, fn: string): Promise<{ address: bigint; bytes: string; mnemonic: string; operands: string }[]> {
  const map = readFileSync(dbg.systemMap, "utf8");
  const m = new RegExp(`^([0-9a-f]{16}) [tT] ${fn}$`, "m").exec(map);
  if (!m) throw new Error(`${fn} not in System.map`);
  const start = BigInt("0x" + m[1]);
  const addrs = [...map.matchAll(/^([0-9a-f]{16}) /gm)].map((x) => BigInt("0x" + x[1])).filter((a) => a > start);
  const stop = addrs.reduce((a, b) => (b < a ? b : a));
  const text = await $`objdump -d -w -M intel --start-address=${"0x" + start.toString(16)} --stop-address=${"0x" + stop.toString(16)} ${dbg.vmlinux}`.text();
  return [...text.matchAll(/^ *([0-9a-f]+):\t([0-9a-f ]+?)\s*\t(\S+)(?: +(.*))?$/gm)].map((x) => ({
    address: BigInt("0x" + x[1]),
    bytes: x[2]!.replace(/ /g, ""),
    mnemonic: x[3]!,
    operands: x[4] ?? "",
  }));
}

test("attImmediates() writes Capstone's unsigned-decimal 64-bit immediates in hex", async () => {
  await loadDisassembler();
  const [mov] = disassemble(Uint8Array.from(Buffer.from("48c7c7b99736b9", "hex")), 0xffffffff81000000n);
  expect(`${mov!.mnemonic} ${mov!.operands}`).toBe("movq $0xffffffffb93697b9, %rdi");
  expect(attImmediates("$123, %rax")).toBe("$123, %rax");
});

describe.each(LINES)("dis on %s", (line) => {
  let vmcore = "";
  let dbg: DebugKernel;
  beforeAll(async () => {
    vmcore = (await sysrqDump(line)).vmcore;
    dbg = await debugKernel(line);
    await loadDisassembler();
  }, LAB);

  test.each(FUNCTIONS)("dis -i %s equals objdump -M intel on the -dbg vmlinux wherever the bytes are the file's", async (fn) => {
    const mine = ours(vmcore, fn, true);
    const peer = await objdump(dbg, fn);
    const slide = BigInt(mine[0]!.address) - peer[0]!.address;
    const byAddr = new Map(peer.map((p) => [p.address + slide, p]));
    let same = 0;
    let patched = 0;
    for (const i of mine) {
      const p = byAddr.get(BigInt(i.address));
      const theirs = p && normIntel(p.mnemonic, p.operands, slide);
      const mineText = normIntel(i.mnemonic, i.operands, 0n);
      if (theirs === mineText) same++;
      else if (!p || p.bytes !== i.bytes) patched++; // patched at run time: ftrace, alternatives, return thunks, sealed endbr64
      else expect({ at: i.address, ins: mineText }).toEqual({ at: i.address, ins: theirs! });
    }
    // the function ends where the kernel's code ends: objdump's last instructions past ours are only padding
    for (const p of peer.filter((p) => p.address + slide > BigInt(mine.at(-1)!.address))) expect(p.mnemonic).toMatch(/^(nop|int3|cs|data16|xchg)/);
    expect(same).toBeGreaterThanOrEqual(3);
    expect(patched).toBeLessThanOrEqual(Math.max(2, mine.length / 8));
  }, 120_000);

  test.skipIf(line !== "6.1")("dis sysrq_handle_crash and panic give crash 8.0.2's mnemonics and operands (AT&T)", async () => {
    const text = await crashOutput(vmcore, dbg.vmlinux, ["dis sysrq_handle_crash", "dis panic"]);
    const crash = new Map([...text.matchAll(/^0x([0-9a-f]{16}) <[^>]+>:\t(\S+)(?: +(.*))?$/gm)].map((m) => [`0x${m[1]}`, normAtt(m[2]!, m[3] ?? "")]));
    for (const fn of ["sysrq_handle_crash", "panic"]) {
      const mine = ours(vmcore, fn);
      expect(mine.length).toBeGreaterThan(3);
      for (const i of mine) {
        const theirs = crash.get(i.address) ?? "(none)";
        if (!sameAtt(normAtt(i.mnemonic, i.operands), theirs)) expect({ at: i.address, ins: normAtt(i.mnemonic, i.operands) }).toEqual({ at: i.address, ins: theirs });
      }
    }
    // and the text reads like crash's: address, <symbol+offset>, a tab, the padded mnemonic, the call target
    expect(analyze(vmcore, "dis", { args: ["sysrq_handle_crash"] })).toMatch(/^0x[0-9a-f]{16} <sysrq_handle_crash>:\tnopl   .*\n.*\n.*\n0x[0-9a-f]{16} <sysrq_handle_crash\+17>:\tcallq  0x[0-9a-f]{16} <panic>\n$/);
  }, LAB);

  test("dis ADDR COUNT, dis -r and bad input", () => {
    const all = ours(vmcore, "sysrq_handle_crash");
    const two = (JSON.parse(analyze(vmcore, "dis", { json: true, args: [all[1]!.address, "2"] })) as { instructions: DisLine[] }).instructions;
    expect(two).toEqual(all.slice(1, 3));
    const upTo = (JSON.parse(analyze(vmcore, "dis", { json: true, args: ["-r", all[2]!.address] })) as { instructions: DisLine[] }).instructions;
    expect(upTo).toEqual(all.slice(0, 3));
    expect(() => analyze(vmcore, "dis", { args: ["no_such_function_xyz"] })).toThrow(/no symbol no_such_function_xyz/);
    expect(() => analyze(vmcore, "dis", { args: [] })).toThrow(/dis needs a function or an address/);
  }, 60_000);
});
