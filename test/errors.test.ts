// The one line the CLI prints for an error stays one line whatever a corrupted dump put into the message.
import { describe, expect, test } from "bun:test";
import { BadDataError, errorLine } from "../lib/errors.ts";

describe("errorLine()", () => {
  test("escapes control characters read from a dump (a module name with a newline), keeping the hint", () => {
    expect(errorLine(new BadDataError("module ab\ncd\x1b[1m: 9999999 symbols is not a sane count", { hint: "its struct module looks corrupted" }))).toBe(
      "module ab\\x0acd\\x1b[1m: 9999999 symbols is not a sane count: its struct module looks corrupted",
    );
  });

  test("system errors keep their path and plain words", () => {
    const e = Object.assign(new Error("EROFS: read-only file system, mkdir '/x'"), { code: "EROFS", path: "/x" });
    expect(errorLine(e)).toBe("/x: read-only file system: remount it read-write or choose another target");
  });
});
