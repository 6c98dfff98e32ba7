import { describe, expect, test } from "bun:test";
import { makedumpfileArgs } from "../../lib/config/makedumpfile_args.ts";
import { configError } from "./_errors.ts";

const at = { file: "/etc/kdump.conf", line: 7 };
const values = (words: string) => Object.fromEntries(makedumpfileArgs(words.split(" ").filter(Boolean), at, "core_collector").assignments.map((a) => [a.key, a.value]));

describe("makedumpfileArgs()", () => {
  test.each([
    ["-c -d 1", { dumpLevel: 1, codec: "zlib", format: "kdump" }],
    ["-l --message-level 7 -d 31", { dumpLevel: 31, codec: "lzo", format: "kdump" }],
    ["-z -d17 -F", { dumpLevel: 17, codec: "zstd", format: "flat" }],
    ["-E -d 0", { dumpLevel: 0, codec: "none", format: "elf" }],
    ["-c --num-threads 2", { codec: "zlib", format: "kdump", threads: 2 }],
    ["--num-threads=3 -d 31", { dumpLevel: 31, codec: "none", format: "kdump", threads: 3 }],
    ["", { codec: "none", format: "kdump" }],
  ])("maps %p to the collector's settings", (words, want) => {
    expect(values(words)).toEqual(want);
  });

  test("accepts options that only tune makedumpfile, with a note naming each", () => {
    const r = makedumpfileArgs(["--message-level", "7", "--cyclic-buffer", "1024", "-D", "--non-cyclic", "-c"], at, "core_collector");
    expect(r.notes.map((n) => [n.line, n.text.split(" tunes")[0]])).toEqual([
      [7, "core_collector: makedumpfile option --message-level 7"],
      [7, "core_collector: makedumpfile option --cyclic-buffer 1024"],
      [7, "core_collector: makedumpfile option -D"],
      [7, "core_collector: makedumpfile option --non-cyclic"],
    ]);
  });

  test.each([
    ["-d x", "-d takes a dump level 0-31, not x"],
    ["-d 32", "not 32"],
    ["-d", "not nothing"],
    ["-p", "-p (snappy) is not written"],
    ["-E -c", "-E (ELF) cannot be compressed"],
    ["--num-threads", "--num-threads takes a number"],
    ["--split", "makedumpfile option --split is not supported"],
    ["-x vmlinux", "makedumpfile option -x is not supported"],
  ])("refuses %p with the file, the line and what to do", (words, what) => {
    const e = configError(() => makedumpfileArgs(words.split(" "), at, "core_collector"));
    expect(e.message).toStartWith("/etc/kdump.conf:7: core_collector: ");
    expect(e.message).toContain(what);
    expect(e.hint).toBeTruthy();
  });
});
