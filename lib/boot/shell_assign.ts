// Reads the variable assignments of a file the shell sources (/etc/default/grub, /etc/default/grub.d/*.cfg,
// /etc/default/kdump-tools): POSIX quoting ('…', "…", \x, $(…), `…`, ${…}), bash's $'…' and +=, comments and
// here-documents, with the exact position of every value so an editor can change one value and leave every other
// byte alone. One pass over the text: linear in its size.
import { syntaxErrorAt } from "./parse_error.ts";

/** One quoted or unquoted piece of a shell word. */
export interface Segment {
  /** How the piece is quoted: 'single', "double", $'ansi-c' (bash), or plain (unquoted). */
  quote: "single" | "double" | "ansi" | "plain";
  /** Offset of the piece's first character (the opening quote, if any). */
  start: number;
  /** Offset just past the piece (past the closing quote, if any). */
  end: number;
  /** The text between the quotes, as written (escapes not undone). */
  raw: string;
}

/** A `NAME=value` (or `export NAME=value`) statement. */
export interface Assignment {
  /** The variable name. */
  name: string;
  /** 1-based line of the name. */
  line: number;
  /** Offset of the statement's first character (`export` or the name). */
  start: number;
  /** Offset of the value's first character (just past "="). */
  valueStart: number;
  /** Offset just past the value. */
  valueEnd: number;
  /** The value's pieces in order; empty for `NAME=`. */
  segments: Segment[];
  /** The value as the shell would assign it, or null when it expands a variable or runs a command. */
  literal: string | null;
  /** True for bash's NAME+=value, which adds to the earlier value. */
  append?: boolean;
}

/** Characters that end an unquoted shell word (blanks and the control operators setup must see). */
const WORD_END = new Set([" ", "\t", "\r", "\n", ";", "&", "|"]);

const NAME = /(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)(\+?)=/y;

/** Parses shell text into its assignments. Throws ConfigSyntaxError (line, column) on an unterminated quote. */
export function parseShellAssignments(text: string, source: string): Assignment[] {
  const out: Assignment[] = [];
  let i = 0;
  const fail = (at: number, what: string): never => {
    throw syntaxErrorAt(source, text, at, what);
  };

  // Skips a $(…) whose "$" is at `at`; returns the offset past the matching ")".
  const skipSubst = (at: number): number => {
    let depth = 0;
    let k = at + 1;
    while (k < text.length) {
      const c = text[k]!;
      if (c === "\\") k += 2;
      else if (c === "'") k = skipSingle(k);
      else if (c === '"') k = skipDouble(k).end;
      else if (c === "`") k = skipBacktick(k);
      else if (c === "(") (depth++, k++);
      else if (c === ")") {
        k++;
        if (--depth === 0) return k;
      } else k++;
    }
    return fail(at, 'unterminated "$(": no matching ")"');
  };
  const skipBacktick = (at: number): number => {
    for (let k = at + 1; k < text.length; k++) {
      if (text[k] === "\\") k++;
      else if (text[k] === "`") return k + 1;
    }
    return fail(at, "unterminated ` (backquote)");
  };
  const skipBrace = (at: number): number => {
    const close = text.indexOf("}", at);
    return close < 0 ? fail(at, 'unterminated "${": no matching "}"') : close + 1;
  };
  // A $'…' string (bash) whose "$" is at `at`: backslash escapes, including \', until the closing quote.
  const skipAnsi = (at: number): number => {
    for (let k = at + 2; k < text.length; k++) {
      if (text[k] === "\\") k++;
      else if (text[k] === "'") return k + 1;
    }
    return fail(at, "unterminated $' (ANSI-C quote)");
  };
  const skipSingle = (at: number): number => {
    const close = text.indexOf("'", at + 1);
    return close < 0 ? fail(at, "unterminated ' (single quote)") : close + 1;
  };
  // A "…" string starting at `at`: its end and whether it expands anything.
  const skipDouble = (at: number): { end: number; expands: boolean } => {
    let expands = false;
    let k = at + 1;
    while (k < text.length) {
      const c = text[k]!;
      if (c === '"') return { end: k + 1, expands };
      if (c === "\\") k += 2;
      else if (c === "`") (expands = true), (k = skipBacktick(k));
      else if (c === "$" && text[k + 1] === "(") (expands = true), (k = skipSubst(k));
      else if (c === "$" && text[k + 1] === "{") (expands = true), (k = skipBrace(k));
      else if (c === "$" && /[A-Za-z_0-9@*#?$!-]/.test(text[k + 1] ?? "")) (expands = true), k++;
      else k++;
    }
    return fail(at, 'unterminated " (double quote)');
  };

  // Lexes one word from `at`; returns its segments, end and literal value (null when it expands).
  const word = (at: number): { segments: Segment[]; end: number; literal: string | null } => {
    const segments: Segment[] = [];
    let literal: string | null = "";
    let k = at;
    let plainStart = -1;
    let plain = ""; // the unescaped text of the plain piece, up to `plainFrom`
    let plainFrom = -1;
    const flush = () => {
      if (plainStart >= 0) {
        segments.push({ quote: "plain", start: plainStart, end: k, raw: text.slice(plainStart, k) });
        if (literal !== null) literal += plain + text.slice(plainFrom, k);
      }
      plainStart = -1;
      plain = "";
    };
    while (k < text.length && !WORD_END.has(text[k]!)) {
      const c = text[k]!;
      if (c === "'") {
        flush();
        const e = skipSingle(k);
        const raw = text.slice(k + 1, e - 1);
        segments.push({ quote: "single", start: k, end: e, raw });
        if (literal !== null) literal += raw;
        k = e;
        continue;
      }
      if (c === '"') {
        flush();
        const d = skipDouble(k);
        const raw = text.slice(k + 1, d.end - 1);
        segments.push({ quote: "double", start: k, end: d.end, raw });
        if (d.expands) literal = null;
        else if (literal !== null) literal += raw.replace(/\\([$`"\\\n])/g, (_m, x: string) => (x === "\n" ? "" : x));
        k = d.end;
        continue;
      }
      if (c === "$" && text[k + 1] === "'") {
        flush();
        const e = skipAnsi(k);
        segments.push({ quote: "ansi", start: k, end: e, raw: text.slice(k + 2, e - 1) });
        literal = null; // escapes not decoded here
        k = e;
        continue;
      }
      if (plainStart < 0) plainStart = plainFrom = k;
      if (c === "\\") {
        plain += text.slice(plainFrom, k) + (text[k + 1] === "\n" ? "" : (text[k + 1] ?? ""));
        k = Math.min(k + 2, text.length);
        plainFrom = k;
      } else if (c === "`") (literal = null), (k = skipBacktick(k));
      else if (c === "$" && text[k + 1] === "(") (literal = null), (k = skipSubst(k));
      else if (c === "$" && text[k + 1] === "{") (literal = null), (k = skipBrace(k));
      else if (c === "$" && /[A-Za-z_0-9@*#?$!-]/.test(text[k + 1] ?? "")) (literal = null), k++;
      else k++;
    }
    flush();
    return { segments, end: k, literal };
  };

  let line = 1;
  let atStatement = true;
  const heredocs: { delim: string; strip: boolean; at: number }[] = []; // <<WORD seen on this line: bodies follow the newline
  // Skips the bodies of the pending here-documents; `i` is just past a newline. Returns the new offset.
  const skipHeredocs = (from: number): number => {
    let k = from;
    for (const h of heredocs.splice(0)) {
      for (;;) {
        // bash ends it at the end of the file with a warning, and a line added there would be inside it.
        if (k >= text.length) return fail(h.at, `unterminated here-document: no line "${h.delim}" ends it`);
        const nl = text.indexOf("\n", k);
        const end = nl < 0 ? text.length : nl;
        const body = text.slice(k, end);
        k = nl < 0 ? text.length : nl + 1;
        line++;
        if ((h.strip ? body.replace(/^\t+/, "") : body) === h.delim) break;
      }
    }
    return k;
  };
  while (i < text.length || heredocs.length) {
    if (i >= text.length) {
      i = skipHeredocs(i); // a here-document opened on the last line, with no newline after it: an error
      continue;
    }
    const c = text[i]!;
    if (c === "\n") {
      line++;
      i++;
      atStatement = true;
      if (heredocs.length) i = skipHeredocs(i);
    } else if (c === " " || c === "\t" || c === "\r") i++;
    else if (c === ";" || c === "&" || c === "|") (i++, (atStatement = true));
    else if (c === "#") {
      const nl = text.indexOf("\n", i);
      i = nl < 0 ? text.length : nl;
    } else {
      NAME.lastIndex = i;
      const m = atStatement ? NAME.exec(text) : null;
      if (m) {
        const w = word(i + m[0].length);
        out.push({ name: m[1]!, line, start: i, valueStart: i + m[0].length, valueEnd: w.end, segments: w.segments, literal: w.literal, ...(m[2] ? { append: true } : {}) });
        line += countNewlines(text, i, w.end);
        i = w.end;
        // `A=1 B=2` assigns both; `A=1 cmd` runs cmd: either way the next word may be an assignment.
      } else {
        const w = word(i);
        const end = Math.max(w.end, i + 1);
        const lexeme = text.slice(i, end);
        // After these keywords a new command (possibly an assignment) starts.
        atStatement = /^(then|else|elif|do|if|while|until|\{|\(|!)$/.test(lexeme);
        line += countNewlines(text, i, end);
        i = end;
        // A here-document: <<WORD or <<-WORD (the word may follow after blanks, quoted or not); not <<< (a string).
        const h = /^[0-9]*<<(-?)(.*)$/s.exec(lexeme);
        if (h && !lexeme.includes("<<<")) {
          let delimWord = h[2]!;
          if (delimWord === "") {
            while (text[i] === " " || text[i] === "\t") i++;
            const d = word(i);
            delimWord = text.slice(i, d.end);
            line += countNewlines(text, i, d.end);
            i = Math.max(d.end, i);
          }
          if (delimWord !== "") heredocs.push({ delim: delimWord.replace(/\\(.)/g, "$1").replace(/['"]/g, ""), strip: h[1] === "-", at: end - lexeme.length });
        }
      }
    }
  }
  return out;
}

function countNewlines(text: string, from: number, to: number): number {
  let n = 0;
  for (let k = from; k < to; k++) if (text[k] === "\n") n++;
  return n;
}

/** True when a value adds to the variable's earlier value: it expands `$name` or `${name}`, or is NAME+=value. */
export function refersTo(a: Assignment, name: string, text: string): boolean {
  if (a.append && a.name === name) return true;
  return new RegExp(`\\$(\\{${name}\\}|${name}(?![A-Za-z0-9_]))`).test(text.slice(a.valueStart, a.valueEnd));
}
