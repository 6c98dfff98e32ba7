import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { unifiedDiff } from "../../lib/boot/diff.ts";
import { applyEdits, type Edit } from "../../lib/boot/file_change.ts";

// Tests that run sh, patch or bun, or fetch Debian's packages on first use (apt-get download): slower than Bun's
// 5 s default on a loaded 2-CPU machine.
const SLOW = 60000;

// GNU patch is the oracle: applying our diff to `before` must give exactly `after`.
async function patched(before: string | null, diff: string): Promise<string | null> {
  const dir = mkdtempSync(join(tmpdir(), "diff-"));
  try {
    if (before !== null) writeFileSync(join(dir, "f"), Buffer.from(before, "latin1"));
    writeFileSync(join(dir, "d.patch"), Buffer.from(diff, "latin1"));
    const r = await Bun.$`cd ${dir} && patch -p1 --batch --remove-empty-files < d.patch`.quiet().nothrow();
    if (r.exitCode !== 0) throw new Error(`patch failed: ${r.stdout}${r.stderr}\n${diff}`);
    return existsSync(join(dir, "f")) ? readFileSync(join(dir, "f")).toString("latin1") : null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const grub = Array.from({ length: 30 }, (_, i) => `LINE_${i}=${i}\n`).join("");
const cases: [string, string | null, string | null][] = [
  ["one changed line", grub, grub.replace("LINE_10=10", 'LINE_10="x crashkernel=256M"')],
  ["two changes far apart", grub, grub.replace("LINE_2=2", "LINE_2=two").replace("LINE_25=25", "LINE_25=x")],
  ["a line appended", grub, grub + 'GRUB_CMDLINE_LINUX="crashkernel=256M"\n'],
  ["a file without a final newline", "a\nb\nc", "a\nb\nc crashkernel=256M"],
  ["a final newline added", "a\nb", "a\nb\nc\n"],
  ["CRLF line ends", "A=1\r\nB=\"quiet\"\r\nC=3\r\n", "A=1\r\nB=\"quiet crashkernel=256M\"\r\nC=3\r\n"],
  ["a new file", null, "ro crashkernel=256M\n"],
  ["a removed file", "x\n", null],
  ["lines removed and added in one block", "a\nb\nc\nd\n", "a\nX\nY\nZ\nd\n"],
];

describe("unifiedDiff()", () => {
  test.each(cases)("is applied by GNU patch to give the new text: %s", async (_name, before, after) => {
    const d = unifiedDiff("/f", before, after);
    expect(d.startsWith(before === null ? "--- /dev/null\n+++ b/f\n" : "--- a/f\n")).toBe(true);
    expect(await patched(before, d)).toBe(after);
  }, SLOW);

  // With the edits that made the change, the diff is built from them in linear time: it must apply just the same.
  const big = Array.from({ length: 5000 }, (_, i) => `L${i}="v ${i}"\n`).join("");
  const at = (t: string, s: string) => t.indexOf(s);
  const editCases: [string, string, Edit[]][] = [
    ["a value edited mid-line", grub, [{ start: at(grub, "10\n"), end: at(grub, "10\n") + 2, text: '"x crashkernel=256M"' }]],
    ["two edits on one line and one far away", grub, [{ start: 0, end: 4, text: "X" }, { start: 5, end: 6, text: "Y" }, { start: at(grub, "LINE_29"), end: at(grub, "LINE_29") + 4, text: "Z" }]],
    ["a line inserted at a line start", grub, [{ start: at(grub, "LINE_3="), end: at(grub, "LINE_3="), text: 'GRUB_CMDLINE_LINUX="crashkernel=256M"\n' }]],
    ["a line appended to a file without a final newline", "a\nb", [{ start: 3, end: 3, text: '\nGRUB_CMDLINE_LINUX="crashkernel=256M"\n' }]],
    ["an edit that joins two lines", "a\nb\nc\nd\n", [{ start: 1, end: 3, text: " " }]],
    ["an edit that splits a line, CRLF", "A=1\r\nB=2\r\n", [{ start: 2, end: 3, text: '"1\r\nmore"' }]],
    ["non-UTF-8 bytes kept", "# caf\xe9\nA=\xff\n# \xc3\n", [{ start: 9, end: 10, text: "\xfe\xfe" }]],
    ["edits on every third of 5000 lines", big, Array.from({ length: 1667 }, (_, i) => ({ start: at(big, `L${i * 3}=`) + `L${i * 3}=`.length, end: at(big, `L${i * 3}=`) + `L${i * 3}=`.length, text: "x" }))],
  ];
  test.each(editCases)("built from edits, is applied by GNU patch to give the new text: %s", async (_name, before, edits) => {
    const after = applyEdits(before, edits);
    const d = unifiedDiff("/f", before, after, 3, edits);
    expect(await patched(before, d)).toBe(after);
    if (before.length < 10_000) expect(d).toBe(unifiedDiff("/f", before, after)); // the same hunks an LCS finds (the LCS is bounded)
  }, SLOW);

  test("is empty when nothing changes", () => {
    expect(unifiedDiff("/f", grub, grub)).toBe("");
  });

  test("shows three lines of context and one hunk per distant change", () => {
    const d = unifiedDiff("/f", grub, grub.replace("LINE_2=2", "LINE_2=two").replace("LINE_25=25", "LINE_25=x"));
    expect(d.match(/^@@ /gm)?.length).toBe(2);
    expect(d).toContain("@@ -1,6 +1,6 @@\n LINE_0=0\n LINE_1=1\n-LINE_2=2\n+LINE_2=two\n LINE_3=3\n");
  });
});
