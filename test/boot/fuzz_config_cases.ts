// The config fuzzer's hostile boxes (see fuzz_config.ts): /etc/default/grub with grub.d drop-ins in kdump-tools'
// style, or systemd-boot's loader entries with /etc/kernel/cmdline, from a seed. Every file is a byte string.

/** A seeded PRNG (mulberry32): the same seed gives the same cases. */
export function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick, chance: (p: number) => next() < p };
}
export type Rng = ReturnType<typeof rng>;

export const SIZES = ["256M", "192M@16M", "128M-:320M", "1G,high 128M,low"];
const CK = ["crashkernel=128M", "crashkernel=384M-:128M", "crashkernel=auto", "crashkernel=2G-64G:256M,64G-:512M", "crashkernel=64M@16M", "crashkernel=512M,high"];
const WORDS = ["quiet", "splash", "ro", "console=ttyS0,115200", "root=UUID=0b6f6a3c", "nomodeset", "x=caf\xe9", "\xff\xfe", "mitigations=off", "a=b=c"];
const BLANKS = [" ", "  ", "\t", " \t "];

/** Words of a command-line value: normal words, odd bytes, and crashkernel= words. */
function words(r: Rng, crash: boolean): string {
  const n = r.int(5);
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(r.pick(WORDS));
  if (crash) for (let i = r.int(3); i >= 0; i--) out.splice(r.int(out.length + 1), 0, r.pick(CK));
  return out.map((w, i) => (i ? r.pick(BLANKS) : "") + w).join("");
}

export const TARGETS = ["GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT"] as const;

/** One shell statement of a defaults file (GRUB's or kdump-tools'), possibly several lines. */
function statement(r: Rng): string {
  const v = r.pick(TARGETS);
  const w = () => words(r, r.chance(0.6));
  switch (r.int(30)) {
    case 0: return `${v}="${w()}"`;
    case 1: return `${v}='${w()}'`;
    case 2: return `${v}=${r.pick(["quiet", "ro", "crashkernel=128M", ""])}`;
    case 3: return `export ${v}="${w()}"`;
    case 4: return `${v}="$${v} ${w()}"`;
    case 5: return `${v}="\${${v}} ${w()}"`;
    case 6: return `${v}+=" ${w()}"`;
    case 7: return `${v}="${w()} \\\n ${w()}"`; // a continuation inside double quotes
    case 8: return `${v}="a \\"q\\" ${w()}"`;
    case 9: return `${v}="${w()}"'${w()}'`; // mixed quoting
    case 10: return `${v}=a\\ b`; // an escaped blank
    case 11: return `if true; then ${v}="${w()}"; fi`;
    case 12: return `# ${v}="crashkernel=1M ${w()}" commented out`;
    case 13: return `cat >/dev/null <<EOF\n${v}="crashkernel=9M"\nEOF`; // a here-document is not an assignment
    case 14: return `: <<-'X'\n\t${v}="in here-doc crashkernel=7M"\n\tX`;
    case 15: return `KDUMP_CMDLINE_APPEND="irqpoll nr_cpus=1 ${r.pick(CK)}"`; // crashkernel= in another variable stays
    case 16: return `USE_KDUMP=${r.int(2)}; KDUMP_COREDIR="/var/crash" MAKEDUMP_ARGS="-c -d 31"`;
    case 17: return `GRUB_DEFAULT=${r.int(5)} GRUB_TIMEOUT=${r.int(10)}`;
    case 18: return `X_${r.int(9)}=$'tab\\there \\'q\\''`;
    case 19: return `Y_${r.int(9)}=\`echo back tick\``;
    case 20: return `Z_${r.int(9)}="$(echo "nested $(echo deep)")"`;
    case 21: return `W_${r.int(9)}=\${UNSET:-def\xe9}`;
    case 22: return `# comment caf\xe9 \xff ${r.chance(0.3) ? "\0 nul" : ""}`;
    case 23: return `# ${"long ".repeat(2000 + r.int(20000))}`; // a huge line
    case 24: return `HUGE_${r.int(9)}="${"w ".repeat(1000 + r.int(10000))}"`;
    case 25: return `${v}="${w()}" ; OTHER_${r.int(9)}=after`;
    case 26: return `FOO_${r.int(9)}=bar\\\nbaz`; // a continuation outside quotes
    case 27: return `GRUB_ENABLE_CRYPTODISK=y # trailing ${v}="crashkernel=3M"`;
    case 28: return `${v}=~/not-a-tilde-${r.int(9)}`;
    default: return `V_${r.int(50)}='caf\xe9 ${r.int(1000)}'`;
  }
}

/** A hostile shell file: statements with duplicates, odd blank lines, maybe CRLF, maybe no final newline. */
function shellFile(r: Rng): string {
  const n = 1 + r.int(r.chance(0.05) ? 3000 : 25);
  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push(r.chance(0.1) ? "" : `${r.chance(0.1) ? r.pick(BLANKS) : ""}${statement(r)}`);
  let text = lines.join("\n") + (r.chance(0.8) ? "\n" : "");
  if (r.chance(0.15)) text = text.replaceAll("\n", "\r\n");
  return text;
}

/** A BLS entry: title, linux, options lines (none, one or several), junk. */
function blsEntry(r: Rng): string {
  const lines = [`title Linux ${r.int(9)} caf\xe9`, "version 6.12.0", "linux /vmlinuz-6.12.0"];
  for (let i = r.int(4); i > 0; i--) lines.splice(1 + r.int(lines.length), 0, `${r.pick(["", " ", "\t"])}options${r.pick(BLANKS)}${r.chance(0.2) ? "$kernelopts " : ""}${words(r, r.chance(0.6))}${r.pick(["", " ", "\t", " \t"])}`);
  if (r.chance(0.2)) lines.push(`# options crashkernel=1M commented`);
  if (r.chance(0.1)) lines.push(`initrd /initrd \xff\0`);
  let text = lines.join("\n") + (r.chance(0.8) ? "\n" : "");
  if (r.chance(0.15)) text = text.replaceAll("\n", "\r\n");
  return text;
}

/** /etc/kernel/cmdline: one line usually, sometimes several, blank or CRLF. */
function cmdlineFile(r: Rng): string {
  const n = r.chance(0.8) ? 1 : 2 + r.int(3);
  const lines = Array.from({ length: n }, () => `${r.chance(0.2) ? " " : ""}${words(r, r.chance(0.5))}`);
  let text = lines.join("\n") + (r.chance(0.7) ? "\n" : "");
  if (r.chance(0.1)) text = text.replaceAll("\n", "\r\n");
  return text;
}

/** A generated box: its kind and files (path on the box → bytes as a byte string). */
export interface Box {
  kind: "grub" | "systemd-boot";
  files: Record<string, string>;
}

export function makeBox(r: Rng): Box {
  if (r.chance(0.6)) {
    const files: Record<string, string> = { "/etc/default/grub": shellFile(r) };
    for (let i = r.int(3); i > 0; i--) files[`/etc/default/grub.d/${r.pick(["kdump-tools", "50-cloud", "zz", "a b"])}.cfg`] = shellFile(r);
    return { kind: "grub", files };
  }
  const files: Record<string, string> = { "/boot/loader/loader.conf": "timeout 3\n" };
  for (let i = 1 + r.int(3); i > 0; i--) files[`/boot/loader/entries/m-${r.int(99)}.conf`] = blsEntry(r);
  if (r.chance(0.8)) files["/etc/kernel/cmdline"] = cmdlineFile(r);
  return { kind: "systemd-boot", files };
}
