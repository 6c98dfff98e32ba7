// AT&T disassembly as gdb (crash's dis) and Capstone print it, normalised to what both must agree on.

/** A number as its low 32 bits: gdb writes $0xfffffff8 where Capstone writes $-8, objdump 0x0 where Capstone nothing. */
export const num = (s: string) => BigInt.asUintN(32, s.startsWith("-") ? -BigInt(s.slice(1)) : BigInt(s)).toString(16);

/** AT&T as gdb and Capstone print it, reduced to what both must agree on. */
export function normAtt(mnemonic: string, operands: string): string {
  const words = `${mnemonic} ${operands}`.trim().split(/\s+/);
  const at = words.findIndex((w) => !/^(lock|rep|repz|repe|repnz|repne|notrack|bnd)$/.test(w));
  mnemonic = words.slice(0, at + 1).join("_");
  const ops = words
    .slice(at + 1)
    .join(" ")
    .replace(/%[de]s:(\(%r[sd]i\))/g, "$1")
    .replace(/#.*$/, "")
    .replace(/<[^>]*>/g, "")
    .replace(/\[FTRACE NOP\]/, "")
    .replace(/\s+/g, "")
    .replace(/,1\)/g, ")")
    .replace(/(^|[,$*])0x0\(/g, "$1(")
    .replace(/-?(0x[0-9a-f]+|\d+)/g, num);
  return `${mnemonic} ${ops}`;
}

/**
 * True when two normalised AT&T instructions agree: gdb leaves out the size suffix where a register operand gives
 * the size (mov %rsp,%rbp), Capstone always writes it (movq).
 */
export function sameAtt(a: string, b: string): boolean {
  const [ma, oa] = a.split(" ") as [string, string];
  const [mb, ob] = b.split(" ") as [string, string];
  if (oa === ob && ma.replace(/^(\w+_)?(stos|movs|lods|scas|cmps)[bwlq]$/, "$1$2") === mb.replace(/^(\w+_)?(stos|movs|lods|scas|cmps)[bwlq]$/, "$1$2")) return true;
  return oa === ob && (ma === mb || ma === mb + ma.at(-1) && /[bwlq]$/.test(ma) || mb === ma + mb.at(-1) && /[bwlq]$/.test(mb));
}
