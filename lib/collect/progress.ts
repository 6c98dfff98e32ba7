// The collector's progress line on stderr: bytes read, pages written of those kept, rate and ETA. On a terminal
// it rewrites one line; on a console or a log (the capture kernel's serial) it prints a line every few seconds.

/** Formats bytes as MiB/GiB. */
export function formatBytes(n: number): string {
  return n >= 1 << 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : `${(n / 2 ** 20).toFixed(1)} MiB`;
}

/** Counts progress and prints it now and then. */
export class Progress {
  private readonly start = performance.now();
  private last = 0;

  constructor(
    /** Pages to write in all. */
    private readonly total: number,
    private readonly print: (line: string, final: boolean) => void,
    /** Milliseconds between lines (a terminal gets 500, a console 5000). */
    private readonly everyMs: number,
    /** Called at every update (each batch written): the collector samples its memory there. */
    private readonly tick?: () => void,
  ) {}

  /** The line for `done` pages written and `bytes` read. */
  line(done: number, bytes: number): string {
    const s = (performance.now() - this.start) / 1000;
    const rate = s > 0 ? bytes / s : 0;
    const eta = done > 0 && done < this.total ? ((this.total - done) * s) / done : 0;
    const pct = this.total ? Math.floor((done * 100) / this.total) : 100;
    return `kdump collect: ${formatBytes(bytes)} read, ${done}/${this.total} pages kept (${pct}%), ${formatBytes(rate)}/s, ETA ${Math.ceil(eta)} s`;
  }

  /** Reports progress when the interval has passed. */
  update(done: number, bytes: number): void {
    this.tick?.();
    const now = performance.now();
    if (now - this.last < this.everyMs) return;
    this.last = now;
    this.print(this.line(done, bytes), false);
  }

  /** The last line. */
  done(done: number, bytes: number): void {
    this.print(this.line(done, bytes), true);
  }
}

/**
 * A printer for stderr: rewrites the line on a terminal, else one line each time (a capture kernel's console is a
 * tty without TERM, often a serial line that logs every byte: it gets lines).
 */
export function stderrPrinter(): { print: (line: string, final: boolean) => void; everyMs: number } {
  const term = process.env.TERM;
  const tty = process.stderr.isTTY && !!term && term !== "dumb";
  return {
    everyMs: tty ? 500 : 5000,
    print: (line, final) => process.stderr.write(tty ? `\r${line}\x1b[K${final ? "\n" : ""}` : `${line}\n`),
  };
}
