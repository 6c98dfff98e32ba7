// makedumpfile's options, as kdump.conf's `core_collector makedumpfile …` and kdump-tools' MAKEDUMP_ARGS give
// them, mapped to the collector's settings: -d level; -c/-l/-z codec (-p snappy is read, not written, here);
// -E ELF, -F flattened; --num-threads. Options that only tune makedumpfile itself are accepted with a note.
import type { CompressName } from "../dump/codecs/compress.ts";
import { ConfigError, type Note, type Origin } from "./origin.ts";
import { assign, type SettingAssignment } from "./settings.ts";

const CODEC_FLAGS: Record<string, CompressName> = { "-c": "zlib", "-l": "lzo", "-z": "zstd" };
/** Options that tune how makedumpfile itself works, with no meaning for the toolkit's collector; n = arguments taken. */
const NO_MEANING: Record<string, number> = {
  "--message-level": 1,
  "--cyclic-buffer": 1,
  "--splitblock-size": 1,
  "--work-dir": 1,
  "--non-cyclic": 0,
  "--non-mmap": 0,
  "-D": 0,
};

/**
 * Reads makedumpfile options (the words after the program name) into settings. Without -c/-l/-z the pages are
 * not compressed, as with makedumpfile. Throws ConfigError for an option the toolkit cannot honour.
 * @example makedumpfileArgs(["-c", "-d", "1"], at, "core_collector").assignments  // codec zlib, dumpLevel 1, format kdump
 */
export function makedumpfileArgs(words: string[], at: Origin, what: string): { assignments: SettingAssignment[]; notes: Note[] } {
  const out: SettingAssignment[] = [];
  const notes: Note[] = [];
  let codec: CompressName = "none";
  let format: "kdump" | "elf" | "flat" = "kdump";
  const fail = (msg: string, hint: string): never => {
    throw new ConfigError(at, `${what}: ${msg}`, hint);
  };
  for (let k = 0; k < words.length; k++) {
    const w = words[k]!;
    const level = /^-d(\d*)$/.exec(w);
    const threads = /^--num-threads(?:=(.*))?$/.exec(w);
    if (level) {
      const n = level[1] || words[++k];
      if (!n || !/^\d+$/.test(n) || Number(n) > 31) fail(`-d takes a dump level 0-31, not ${n ?? "nothing"}`, "add the bits: 1 zero, 2 cache, 4 private cache, 8 user, 16 free pages (31: all of them)");
      out.push(assign("dumpLevel", Number(n), at));
    } else if (CODEC_FLAGS[w]) codec = CODEC_FLAGS[w]!;
    else if (w === "-p") fail("-p (snappy) is not written by this toolkit", "use -z (zstd), -c (zlib) or -l (lzo)");
    else if (w === "-E") format = "elf";
    else if (w === "-F") format = "flat";
    else if (threads) {
      const n = threads[1] ?? words[++k];
      if (!n || !/^\d+$/.test(n) || Number(n) > 64) fail(`--num-threads takes a number 0-64, not ${n ?? "nothing"}`, "give the compression threads, e.g. --num-threads 2");
      out.push(assign("threads", Number(n), at));
    } else if (w in NO_MEANING) {
      const arg = NO_MEANING[w]! ? ` ${words[k + 1] ?? ""}` : "";
      k += NO_MEANING[w]!;
      notes.push({ ...at, text: `${what}: makedumpfile option ${w}${arg} tunes makedumpfile itself; it has no meaning for the toolkit's collector: accepted, ignored` });
    } else
      fail(
        `makedumpfile option ${w} is not supported`,
        "the toolkit's collector takes -d N, -c, -l, -z, -E, -F and --num-threads N (and accepts --message-level, --cyclic-buffer, --splitblock-size, --work-dir, --non-cyclic, --non-mmap, -D); remove it",
      );
  }
  if (format === "elf" && codec !== "none") fail("-E (ELF) cannot be compressed", "drop -E, or drop -c/-l/-z");
  out.push(assign("codec", codec, at), assign("format", format, at));
  return { assignments: out, notes };
}
