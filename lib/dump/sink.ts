// Where dump writers put bytes: a DumpSink takes writes at file offsets (a regular file takes them as they are;
// a flattened stream records each with its offset, see flat_writer.ts). A ByteStream is a pipe, stdout or ssh.
import { closeSync, fsyncSync, writeSync } from "node:fs";
import { SyscallError } from "../errors.ts";
import { errnoName, syscall } from "../sys/libc.ts";

/** Positional output of a dump writer. */
export interface DumpSink {
  /** Writes `data` at file offset `offset`. */
  write(offset: number, data: Uint8Array): void | Promise<void>;
  /**
   * Allocates [offset, offset + length) now, so later writes there cannot fail for lack of space
   * (fallocate on files; nothing on streams). Throws SyscallError ENOSPC when it does not fit.
   */
  reserve(offset: number, length: number): void;
  /** Makes everything written durable: fsync for files, the end marker for streams. */
  finish(): Promise<void>;
  /** Releases the output (after finish, or after a failure). */
  close(): void;
}

/** x86_64 fallocate(2): allocate blocks without writing them. */
const SYS_fallocate = 285;

/** A regular file or block device opened for writing. */
export class FileSink implements DumpSink {
  constructor(
    /** The open file descriptor (the sink closes it). */
    readonly fd: number,
    /** Its path, for messages. */
    readonly path: string,
  ) {}

  write(offset: number, data: Uint8Array): void {
    for (let done = 0; done < data.length; ) done += writeSync(this.fd, data, done, data.length - done, offset + done);
  }

  reserve(offset: number, length: number): void {
    if (length <= 0) return;
    const r = syscall(SYS_fallocate, this.fd, 0, offset, length);
    if (r.ret === 0n) return;
    // file systems, devices and pipes without fallocate (EOPNOTSUPP, ENODEV, ESPIPE): nothing is reserved ahead
    if (r.errno === 95 || r.errno === 19 || r.errno === 29) return;
    const code = errnoName(r.errno);
    throw new SyscallError(`fallocate(${this.path}, ${length} bytes)`, r.errno, code, {
      hint: code === "ENOSPC" ? "the target has no room even for the dump's headers and page table" : "see the errno",
    });
  }

  async finish(): Promise<void> {
    fsyncSync(this.fd);
  }

  close(): void {
    closeSync(this.fd);
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
