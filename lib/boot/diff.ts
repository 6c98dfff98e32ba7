// A unified diff writer (the format of `diff -u`, applied by GNU patch) for the small text files setup edits:
// what `kdump setup --dry-run` prints. Line ends are kept exactly, so CRLF and a missing final newline show.

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

function render(o: Op): string {
  return o.text.endsWith("\n") ? `${o.op}${o.text}` : `${o.op}${o.text}\n\\ No newline at end of file\n`;
}

/**
 * A unified diff of `before` → `after` for the file `path` (null `before` creates the file, null `after`
 * deletes it), with `context` lines around each change; "" when nothing changes.
 * @example unifiedDiff("/etc/kernel/cmdline", "ro\n", "ro crashkernel=256M\n")
 */
export function unifiedDiff(path: string, before: string | null, after: string | null, context = 3): string {
  if (before === after) return "";
  const ops = script(lines(before ?? ""), lines(after ?? ""));
  const out = [`--- ${before === null ? "/dev/null" : `a${path}`}\n`, `+++ ${after === null ? "/dev/null" : `b${path}`}\n`];
  const changed = ops.flatMap((o, k) => (o.op === " " ? [] : [k]));
  let k = 0;
  while (k < changed.length) {
    let first = changed[k]!;
    let last = first;
    while (k + 1 < changed.length && changed[k + 1]! - last <= 2 * context + 1) last = changed[++k]!;
    k++;
    const from = Math.max(0, first - context);
    const to = Math.min(ops.length, last + context + 1);
    let oldLine = 1;
    let newLine = 1;
    for (const o of ops.slice(0, from)) {
      if (o.op !== "+") oldLine++;
      if (o.op !== "-") newLine++;
    }
    const hunk = ops.slice(from, to);
    const oldCount = hunk.filter((o) => o.op !== "+").length;
    const newCount = hunk.filter((o) => o.op !== "-").length;
    const range = (start: number, count: number) => `${count === 0 ? start - 1 : start}${count === 1 ? "" : `,${count}`}`;
    out.push(`@@ -${range(oldLine, oldCount)} +${range(newLine, newCount)} @@\n`, ...hunk.map(render));
  }
  return out.join("");
}
