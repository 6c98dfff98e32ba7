// Where dump writers put bytes: a DumpSink takes writes at file offsets (a regular file takes them as they are, its
// page data past the page cache when it can, see direct_append.ts; a flattened stream records each with its offset,
// see flat_writer.ts). A ByteStream is a pipe, stdout or ssh.
import { closeSync, fsyncSync, writeSync } from "node:fs";
import { SyscallError, UnsupportedMachineError } from "../errors.ts";
import { errnoName, syscall } from "../sys/libc.ts";
import { DirectAppender } from "./direct_append.ts";

/** Positional output of a dump writer. */
export interface DumpSink {
  /**
   * True when each write is appended as a record (a flattened stream): bytes written twice appear twice, so a
   * writer writes its header once instead of marking it incomplete first and rewriting it at the end.
   */
  readonly stream?: boolean;
  /** Writes `data` at file offset `offset`. */
  write(offset: number, data: Uint8Array): void | Promise<void>;
  /**
   * Allocates [offset, offset + length) now, so later writes there cannot fail for lack of space
   * (fallocate on files; nothing on streams). Throws SyscallError ENOSPC when it does not fit.
   */
  reserve(offset: number, length: number): void;
  /**
   * Says the writes from `offset` on come in order, each where the last ended (a dump's page data): a file may
   * gather them and write them past its page cache (O_DIRECT). Others may ignore it.
   */
  appendFrom?(offset: number): void;
  /** Writes anything gathered (before a writer marks its header complete). */
  flush?(): void;
  /** Makes everything written durable: fsync for files, the end marker for streams. */
  finish(): Promise<void>;
  /** Releases the output (after finish, or after a failure). */
  close(): void;
}

/** A regular file or block device opened for writing. */
export class FileSink implements DumpSink {
  constructor(
    /** The open file descriptor (the sink closes it). */
    readonly fd: number,
    /** Its path, for messages. */
    readonly path: string,
  ) {}

  /** The page data's appender once appendFrom() is called, when the file system takes O_DIRECT. */
  private direct: DirectAppender | null = null;

  /** True when the page data goes past the page cache (after appendFrom(), on a file system that takes O_DIRECT). */
  get directIO(): boolean {
    return this.direct !== null;
  }

  write(offset: number, data: Uint8Array): void {
    const d = this.direct;
    if (d) {
      if (offset === d.next) return d.append(data);
      if (d.holds(offset, data.length)) d.flush();
    }
    this.writePlain(offset, data);
  }

  /** Writes through the ordinary descriptor (the page cache). */
  private writePlain(offset: number, data: Uint8Array): void {
    for (let done = 0; done < data.length; ) done += writeSync(this.fd, data, done, data.length - done, offset + done);
  }

  appendFrom(offset: number): void {
    if (this.direct) throw new Error("FileSink.appendFrom() called twice");
    this.direct = DirectAppender.open(this.path, offset, (o, d) => this.writePlain(o, d));
  }

  flush(): void {
    this.direct?.flush();
  }

  reserve(offset: number, length: number): void {
    if (length <= 0) return;
    let r;
    try {
      r = syscall("fallocate", this.fd, 0, offset, length);
    } catch (e) {
      if (e instanceof UnsupportedMachineError) return; // no syscall table here: reserving ahead is only an optimisation
      throw e;
    }
    if (r.ret === 0n) return;
    // file systems, devices and pipes without fallocate (EOPNOTSUPP, ENODEV, ESPIPE): nothing is reserved ahead
    if (r.errno === 95 || r.errno === 19 || r.errno === 29) return;
    const code = errnoName(r.errno);
    throw new SyscallError(`fallocate(${this.path}, ${length} bytes)`, r.errno, code, {
      hint: code === "ENOSPC" ? "the target has no room even for the dump's headers and page table" : "see the errno",
    });
  }

  async finish(): Promise<void> {
    this.direct?.flush();
    fsyncSync(this.fd);
  }

  close(): void {
    try {
      this.direct?.close();
    } finally {
      closeSync(this.fd);
    }
  }
}

/** Sequential output: stdout, a pipe, the stdin of an ssh process. */
export interface ByteStream {
  /** Appends `data`; a promise when the consumer applies back-pressure. */
  write(data: Uint8Array): void | Promise<void>;
  /** Flushes and closes the stream. */
  end(): Promise<void>;
}

/** A ByteStream over a blocking file descriptor (stdout), written synchronously. */
export function fdStream(fd: number): ByteStream {
  return {
    async write(data) {
      for (let done = 0; done < data.length; ) {
        try {
          done += writeSync(fd, data, done, data.length - done);
        } catch (e) {
          // a non-blocking pipe (stdout of a process started by Bun or node) that is full: wait for the reader
          if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
          await Bun.sleep(1);
        }
      }
    },
    async end() {},
  };
}

/** Bun's FileSink (a subprocess's stdin, Bun.stdout.writer()) as a ByteStream that waits for the consumer. */
export function bunSinkStream(sink: { write(d: Uint8Array): number | Promise<number>; flush(): number | Promise<number>; end(): number | Promise<number> }): ByteStream {
  return {
    async write(data) {
      await sink.write(data);
      await sink.flush();
    },
    async end() {
      await sink.end();
    },
  };
}
