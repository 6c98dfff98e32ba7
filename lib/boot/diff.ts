// A unified diff writer (the format of `diff -u`, applied by GNU patch) for the config files setup edits: what
// `kdump setup --dry-run` prints. Texts are byte strings (one char per byte), so the diff holds the file's own
// bytes, non-UTF-8 ones included; line ends are kept exactly, so CRLF and a missing final newline show. Given the
// edits that made the change, the diff is linear in the file size; without them, the middle is an LCS, bounded.
import type { Edit } from "./file_change.ts";

/** One line of an edit script: kept, removed or added, with its newline if it has one. */
interface Op {
  /** " " kept, "-" removed, "+" added. */
  op: " " | "-" | "+";
  /** The line including its "\n" when the file has one there. */
  text: string;
}

function lines(text: string): string[] {
  return text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

/** The edit script from `a` to `b`: common head and tail, then a longest-common-subsequence of the middle. */
function script(a: string[], b: string[]): Op[] {
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const x = a.slice(head, a.length - tail);
  const y = b.slice(head, b.length - tail);
  const keep = (t: string) => ({ op: " " as const, text: t });
  // Beyond a few thousand lines of middle an LCS table costs too much: show the middle as replaced (still exact).
  if (x.length * y.length > LCS_CELLS)
    return [...a.slice(0, head).map(keep), ...x.map((t) => ({ op: "-" as const, text: t })), ...y.map((t) => ({ op: "+" as const, text: t })), ...a.slice(a.length - tail).map(keep)];
  // lcs[i][j] = length of the LCS of x[i..] and y[j..]; the middle of a config edit is a few lines.
  const lcs = Array.from({ length: x.length + 1 }, () => new Uint32Array(y.length + 1));
  for (let i = x.length - 1; i >= 0; i--)
    for (let j = y.length - 1; j >= 0; j--) lcs[i]![j] = x[i] === y[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const mid: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < x.length || j < y.length) {
    if (i < x.length && j < y.length && x[i] === y[j]) {
      mid.push({ op: " ", text: x[i++]! });
      j++;
    } else if (j < y.length && (i === x.length || lcs[i]![j + 1]! >= lcs[i + 1]![j]!)) mid.push({ op: "+", text: y[j++]! });
    else mid.push({ op: "-", text: x[i++]! });
  }
  // Removals before additions inside a changed block, as diff -u prints them.
  for (let k = 0; k < mid.length; ) {
    if (mid[k]!.op === " ") {
      k++;
      continue;
    }
    let e = k;
    while (e < mid.length && mid[e]!.op !== " ") e++;
    const block = mid.slice(k, e);
    mid.splice(k, e - k, ...block.filter((o) => o.op === "-"), ...block.filter((o) => o.op === "+"));
    k = e;
  }
  return [...a.slice(0, head).map((t) => ({ op: " " as const, text: t })), ...mid, ...a.slice(a.length - tail).map((t) => ({ op: " " as const, text: t }))];
}

/** The largest LCS table (cells) script() builds: 4M cells, 16 MB. */
const LCS_CELLS = 4_000_000;

/**
 * The edit script from `before` to `after` given the edits that made it: each edit widened to whole lines,
 * overlapping or touching ranges merged, lines equal at both ends of a range kept. Linear in the text size.
 */
function scriptFromEdits(before: string, after: string, edits: Edit[]): Op[] {
  const sorted = [...edits].sort((x, y) => x.start - y.start || x.end - y.end);
  const lineEnd = (t: string, at: number) => {
    const nl = t.indexOf("\n", at);
    return nl < 0 ? t.length : nl + 1;
  };
  const lineStart = (t: string, at: number) => (at === 0 ? 0 : t.lastIndexOf("\n", at - 1) + 1);
  // Ranges [bs, be) of `before` and [as, ae) of `after` made of whole lines, in order.
  const ranges: { bs: number; be: number; as: number; ae: number }[] = [];
  let delta = 0; // after offset - before offset, for positions before the current edit
  for (const e of sorted) {
    const bs = lineStart(before, e.start);
    const pureLineInsert = e.start === e.end && e.start === bs && e.text.endsWith("\n");
    const be = pureLineInsert ? bs : lineEnd(before, e.end);
    const grow = e.text.length - (e.end - e.start);
    const r = { bs, be, as: bs + delta, ae: be + delta + grow };
    delta += grow;
    const last = ranges.at(-1);
    if (last && r.bs <= last.be) {
      last.be = Math.max(last.be, r.be);
      last.ae = r.ae + (last.be - r.be);
    } else ranges.push(r);
  }
  const ops: Op[] = [];
  let at = 0;
  const push = (op: Op["op"], t: string, from: number, to: number) => {
    for (const l of lines(t.slice(from, to))) ops.push({ op, text: l });
  };
  for (const r of ranges) {
    push(" ", before, at, r.bs);
    const old = lines(before.slice(r.bs, r.be));
    const neu = lines(after.slice(r.as, r.ae));
    let h = 0;
    while (h < old.length && h < neu.length && old[h] === neu[h]) h++;
    let t = 0;
    while (t < old.length - h && t < neu.length - h && old[old.length - 1 - t] === neu[neu.length - 1 - t]) t++;
    for (const l of old.slice(0, h)) ops.push({ op: " ", text: l });
    for (const l of old.slice(h, old.length - t)) ops.push({ op: "-", text: l });
    for (const l of neu.slice(h, neu.length - t)) ops.push({ op: "+", text: l });
    for (const l of old.slice(old.length - t)) ops.push({ op: " ", text: l });
    at = r.be;
  }
  push(" ", before, at, before.length);
  return ops;
}

function render(o: Op): string {
  return o.text.endsWith("\n") ? `${o.op}${o.text}` : `${o.op}${o.text}\n\\ No newline at end of file\n`;
}

/**
 * A unified diff of `before` → `after` for the file `path` (null `before` creates the file, null `after`
 * deletes it), with `context` lines around each change; "" when nothing changes.
 * @example unifiedDiff("/etc/kernel/cmdline", "ro\n", "ro crashkernel=256M\n")
 */
export function unifiedDiff(path: string, before: string | null, after: string | null, context = 3, edits?: Edit[]): string {
  if (before === after) return "";
  const ops = edits && before !== null && after !== null ? scriptFromEdits(before, after, edits) : script(lines(before ?? ""), lines(after ?? ""));
  const out = [`--- ${before === null ? "/dev/null" : `a${path}`}\n`, `+++ ${after === null ? "/dev/null" : `b${path}`}\n`];
  const changed = ops.flatMap((o, k) => (o.op === " " ? [] : [k]));
  let k = 0;
  let counted = 0; // ops before `counted` are numbered into oldLine/newLine: one pass over the script
  let oldLine = 1;
  let newLine = 1;
  while (k < changed.length) {
    let first = changed[k]!;
    let last = first;
    while (k + 1 < changed.length && changed[k + 1]! - last <= 2 * context + 1) last = changed[++k]!;
    k++;
    const from = Math.max(0, first - context);
    const to = Math.min(ops.length, last + context + 1);
    for (; counted < from; counted++) {
      const o = ops[counted]!;
      if (o.op !== "+") oldLine++;
      if (o.op !== "-") newLine++;
    }
    const hunk = ops.slice(from, to);
    const oldCount = hunk.filter((o) => o.op !== "+").length;
    const newCount = hunk.filter((o) => o.op !== "-").length;
    const range = (start: number, count: number) => `${count === 0 ? start - 1 : start}${count === 1 ? "" : `,${count}`}`;
    out.push(`@@ -${range(oldLine, oldCount)} +${range(newLine, newCount)} @@\n`);
    for (const o of hunk) out.push(render(o));
  }
  return out.join("");
}
