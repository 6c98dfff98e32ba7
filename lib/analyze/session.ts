// The analyze session: one dump opened once, then crash-style command lines (`bt -a`, `log -T | grep ext4`) run
// against it, each reusing what earlier ones read (symbols, BTF, the log). `kdump analyze VMCORE` opens it on a
// terminal, with history and completion of command and symbol names; `kdump analyze VMCORE -` reads the lines
// from stdin. A `|` hands the command's output to `sh -c` with the rest of the line.
import { homedir } from "node:os";
import { join } from "node:path";
import { openDump } from "../dump/open.ts";
import type { Dump } from "../dump/dump.ts";
import { errorLine, UsageError } from "../errors.ts";
import { AnalyzeContext, analyzeCommands, printOutput, runCommand, type AnalyzeOptions } from "./command.ts";

/** A parsed command line. */
export interface SessionLine {
  /** The analyze command ("bt"). */
  command: string;
  /** Its arguments ("-a"); --json is taken out into `json`. */
  args: string[];
  /** --json was given. */
  json: boolean;
  /** The shell pipeline after the first unquoted `|`, if any. */
  pipe?: string;
}

/** Words the session itself answers. */
const BUILTINS = ["help", "quit", "exit"];

/**
 * Splits a command line: words separated by blanks, '…' and "…" quoting, and the first unquoted | starting a
 * shell pipeline. Undefined for a blank line.
 * @example parseSessionLine("bt -a | grep ext4") // { command: "bt", args: ["-a"], json: false, pipe: "grep ext4" }
 */
export function parseSessionLine(line: string): SessionLine | undefined {
  const words: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  let pipe: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      word ??= "";
    } else if (c === "|") {
      pipe = line.slice(i + 1).trim();
      break;
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else word = (word ?? "") + c;
  }
  if (quote) throw new UsageError(`unterminated ${quote} in: ${line}`, { hint: "close the quote" });
  if (word !== undefined) words.push(word);
  if (!words.length) {
    if (pipe !== undefined) throw new UsageError("nothing before |", { hint: "e.g. bt -a | grep ext4" });
    return undefined;
  }
  if (pipe === "") throw new UsageError("nothing after |", { hint: "e.g. bt -a | grep ext4" });
  const [command, ...rest] = words as [string, ...string[]];
  return { command, args: rest.filter((a) => a !== "--json"), json: rest.includes("--json"), pipe };
}

/** One dump, open for many commands. */
export class AnalyzeSession {
  readonly dump: Dump;
  readonly ctx: AnalyzeContext;
  private names?: string[];

  /** Opens the dump at `path` (its kernel is read on the first command that needs it). */
  constructor(path: string, opts: AnalyzeOptions = {}) {
    this.dump = openDump(path);
    this.ctx = new AnalyzeContext(this.dump, { ...opts, args: [] });
  }

  /**
   * What `line` prints: the command's output, or for a pipeline the shell's output (the shell writes to `out`
   * when given, else its output is returned). Throws typed errors for bad commands.
   * @example await session.run("bt -a | grep ext4")
   */
  async run(line: string, out?: "inherit"): Promise<string | Uint8Array> {
    const p = parseSessionLine(line);
    if (!p) return "";
    if (p.command === "help") return helpText();
    const cmd = analyzeCommands[p.command];
    if (!cmd) throw new UsageError(`unknown command ${p.command}`, { hint: "help lists the commands" });
    await cmd.prepare?.();
    Object.assign(this.ctx.opts, { args: p.args, json: p.json });
    const text = runCommand(this.ctx, p.command);
    if (p.pipe === undefined) return text;
    const sh = Bun.spawn(["sh", "-c", p.pipe], { stdin: "pipe", stdout: out ?? "pipe", stderr: "inherit" });
    try {
      sh.stdin.write(text);
      await sh.stdin.end();
    } catch {
      // the pipeline stopped reading (head, grep -q): its output still counts
    }
    const shown = out ? "" : await new Response(sh.stdout as ReadableStream).text();
    await sh.exited;
    return shown;
  }

  /** Command names, then (for later words) kernel symbol names, that start with the line's last word. */
  complete(line: string): [string[], string] {
    const words = line.split(/\s+/);
    const last = words[words.length - 1] ?? "";
    if (words.length <= 1) return [[...Object.keys(analyzeCommands), ...BUILTINS].filter((c) => c.startsWith(last)).sort(), last];
    if (!last || last.startsWith("-") || line.includes("|")) return [[], last];
    const all = this.symbolNames();
    let lo = 0;
    let hi = all.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (all[mid]! < last) lo = mid + 1;
      else hi = mid;
    }
    const hits: string[] = [];
    for (let i = lo; i < all.length && all[i]!.startsWith(last) && hits.length < 200; i++) hits.push(all[i]!);
    return [hits, last];
  }

  /** Every kallsyms name, sorted, expanded on the first completion that needs them. */
  private symbolNames(): string[] {
    if (!this.names) {
      const ks = this.ctx.program.symbols;
      const set = new Set<string>();
      for (let i = 0; i < ks.count; i++) set.add(ks.name(i));
      this.names = [...set].sort();
    }
    return this.names;
  }

  close(): void {
    this.dump.close();
  }
}

function helpText(): string {
  const rows = Object.entries(analyzeCommands).map(([n, c]) => `  ${n.padEnd(8)} ${c.describe}`);
  return ["commands (crash's names; add --json for data, | CMD to pipe through the shell):", ...rows, "  quit     leave (also exit, Ctrl-D)", ""].join("\n");
}

/**
 * Runs a session on the dump at `path`: "tty" reads lines at a `kdump>` prompt with history (kept in
 * ~/.kdump_history) and Tab completion; "stdin" runs the lines piped in. Errors print as `kdump: …` and the
 * session goes on; the exit status is 1 when any command failed.
 */
export async function runSession(path: string, opts: AnalyzeOptions, mode: "tty" | "stdin"): Promise<number> {
  const session = new AnalyzeSession(path, opts);
  let failed = false;
  const one = async (line: string) => {
    try {
      const out = await session.run(line, "inherit");
      if (out.length) await printOutput(out);
    } catch (e) {
      failed = true;
      console.error(`kdump: ${errorLine(e)}`);
    }
  };
  try {
    if (mode === "stdin") {
      const text = await Bun.stdin.text();
      for (const line of text.split("\n")) {
        const t = line.trim();
        if (t === "quit" || t === "exit" || t === "q") break;
        if (t && !t.startsWith("#")) await one(t);
      }
    } else await interactive(session, one);
  } finally {
    session.close();
  }
  return failed ? 1 : 0;
}

async function interactive(session: AnalyzeSession, one: (line: string) => Promise<void>): Promise<void> {
  const { createInterface } = await import("node:readline");
  const { existsSync, readFileSync, appendFileSync } = await import("node:fs");
  const file = join(homedir(), ".kdump_history");
  const history = existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean).reverse().slice(0, 1000) : [];
  const rl = createInterface({ input: process.stdin, output: process.stdout, prompt: "kdump> ", history, historySize: 1000, completer: (line: string) => session.complete(line) });
  rl.prompt();
  for await (const line of rl) {
    const t = line.trim();
    if (t === "quit" || t === "exit" || t === "q") break;
    if (t) {
      rl.pause();
      await one(t);
      try {
        appendFileSync(file, t + "\n", { mode: 0o600 });
      } catch {
        // history is a convenience: a read-only home does not stop the session
      }
      rl.resume();
    }
    rl.prompt();
  }
  rl.close();
}
