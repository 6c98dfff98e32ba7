import { describe, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigSyntaxError } from "../../lib/boot/parse_error.ts";
import { parseShellAssignments, refersTo } from "../../lib/boot/shell_assign.ts";
import { debianGrubDefaults, kdumpToolsDefaults, sourced } from "./fixtures.ts";

// Tests that run sh, patch or bun, or fetch Debian's packages on first use (apt-get download): slower than Bun's
// 5 s default on a loaded 2-CPU machine.
const SLOW = 60000;

// /bin/sh is the oracle: for every variable whose last assignment we call literal, the shell must assign exactly that.
async function agreesWithShell(text: string): Promise<number> {
  const all = parseShellAssignments(text, "f");
  const last = new Map(all.map((a) => [a.name, a]));
  const literal = [...last.values()].filter((a) => a.literal !== null);
  const values = await sourced([{ text }], literal.map((a) => a.name));
  for (const a of literal) expect([a.name, a.literal]).toEqual([a.name, values[a.name]!]);
  return literal.length;
}

const hostile = [
  "A='single $x \"q\"'",
  'B="double \\"escaped\\" \\$notvar \\\\ back"',
  "C=plain\\ escaped",
  'D="multi\nline"',
  "E=mixed'one'\"two\"three",
  "export F=exported  # trailing comment",
  "G=   # empty then comment",
  "H=a#notcomment",
  "if true; then I=inside; fi",
  'J="$(echo "nested quotes")" K=after',
  "L=`echo back` ; M=semi",
  "N=${UNSET:-x} O=last",
  "P=",
].join("\n");

describe("parseShellAssignments()", () => {
  test("agrees with /bin/sh on every literal value of hostile quoting", async () => {
    expect(await agreesWithShell(hostile)).toBeGreaterThanOrEqual(12);
  }, SLOW);

  test("agrees with /bin/sh on Debian's /etc/default/grub and /etc/default/kdump-tools", async () => {
    expect(await agreesWithShell(await debianGrubDefaults())).toBeGreaterThanOrEqual(4);
    expect(await agreesWithShell(await kdumpToolsDefaults())).toBeGreaterThanOrEqual(4);
  }, SLOW);

  test("marks values that expand or run commands as not literal", () => {
    const a = Object.fromEntries(parseShellAssignments(hostile, "f").map((x) => [x.name, x]));
    expect([a.J!.literal, a.L!.literal, a.N!.literal]).toEqual([null, null, null]);
    expect(a.I!.literal).toBe("inside");
  });

  test("records each value's exact span and line", () => {
    const text = 'X=1\nGRUB_CMDLINE_LINUX="quiet splash"\n';
    const [, g] = parseShellAssignments(text, "f");
    expect(text.slice(g!.valueStart, g!.valueEnd)).toBe('"quiet splash"');
    expect(g!.line).toBe(2);
    const q = text.indexOf(`"quiet`);
    expect(g!.segments).toEqual([{ quote: "double", start: q, end: q + 14, raw: "quiet splash" }]);
  });

  // Found by the config fuzzer: bash's own forms, which setup must not misread as assignments or values.
  test("skips here-documents, reads NAME+= as adding, and $'…' as one piece; an unterminated here-document is an error", async () => {
    const text = "cat >/dev/null <<EOF\nGRUB_CMDLINE_LINUX=\"in doc\"\nEOF\n: <<-'X'\n\tA=in\n\tX\nB+=\" more\"\nC=$'it\\'s'\nD=after\n";
    const all = parseShellAssignments(text, "f");
    expect(all.map((a) => [a.name, a.append ?? false])).toEqual([["B", true], ["C", false], ["D", false]]);
    expect(refersTo(all[0]!, "B", text)).toBe(true);
    expect(all[1]!.segments.map((s) => s.quote)).toEqual(["ansi"]);
    const f = join(tmpdir(), `bash-forms-${process.pid}`);
    writeFileSync(f, `B=x\n${text}`);
    const r = await Bun.$`bash -c ${'. "$1"; printf "%s|%s|%s|%s" "$GRUB_CMDLINE_LINUX" "$B" "$C" "$D"'} bash ${f}`.quiet();
    rmSync(f);
    expect(r.stdout.toString()).toBe("|x more|it's|after"); // bash agrees: the document's line assigns nothing
    expect(() => parseShellAssignments(": <<-X\r\n\tA=1\r\n\tX\r\nB=2\r\n", "f")).toThrow('f:1:3: unterminated here-document: no line "X" ends it'); // CRLF: "X\r" is not "X"
  }, SLOW);

  test("refersTo() sees $NAME and ${NAME} but not a longer name", () => {
    const text = 'A="$A x"\nB="${B} y"\nC="$CD z"\n';
    const [a, b, c] = parseShellAssignments(text, "f");
    expect([refersTo(a!, "A", text), refersTo(b!, "B", text), refersTo(c!, "C", text)]).toEqual([true, true, false]);
  });

  test.each([
    ['X=1\nGRUB_CMDLINE_LINUX="quiet\n', 2, 20, "unterminated \" (double quote)"],
    ["X='open", 1, 3, "unterminated ' (single quote)"],
    ["Y=$(echo x", 1, 3, 'unterminated "$("'],
    ["Z=`date", 1, 3, "unterminated ` (backquote)"],
  ])("names the line and column of an unterminated quote in %p", (text, line, column, what) => {
    let err: unknown;
    try {
      parseShellAssignments(text, "/etc/default/grub");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigSyntaxError);
    expect((err as ConfigSyntaxError).message).toStartWith(`/etc/default/grub:${line}:${column}: ${what}`);
  });
});
