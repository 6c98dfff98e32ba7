import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { unifiedDiff } from "../../lib/boot/diff.ts";

// Tests that run sh, patch or bun, or fetch Debian's packages on first use (apt-get download): slower than Bun's
// 5 s default on a loaded 2-CPU machine.
const SLOW = 60000;

// GNU patch is the oracle: applying our diff to `before` must give exactly `after`.
async function patched(before: string | null, diff: string): Promise<string | null> {
  const dir = mkdtempSync(join(tmpdir(), "diff-"));
  try {
    if (before !== null) writeFileSync(join(dir, "f"), before);
    writeFileSync(join(dir, "d.patch"), diff);
    const r = await Bun.$`cd ${dir} && patch -p1 --batch --remove-empty-files < d.patch`.quiet().nothrow();
    if (r.exitCode !== 0) throw new Error(`patch failed: ${r.stdout}${r.stderr}\n${diff}`);
    return existsSync(join(dir, "f")) ? readFileSync(join(dir, "f"), "utf8") : null;
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

  test("is empty when nothing changes", () => {
    expect(unifiedDiff("/f", grub, grub)).toBe("");
  });

  test("shows three lines of context and one hunk per distant change", () => {
    const d = unifiedDiff("/f", grub, grub.replace("LINE_2=2", "LINE_2=two").replace("LINE_25=25", "LINE_25=x"));
    expect(d.match(/^@@ /gm)?.length).toBe(2);
    expect(d).toContain("@@ -1,6 +1,6 @@\n LINE_0=0\n LINE_1=1\n-LINE_2=2\n+LINE_2=two\n LINE_3=3\n");
  });
});
