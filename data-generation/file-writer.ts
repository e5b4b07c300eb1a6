import { closeSync, openSync, writeSync } from 'node:fs';

/** Where a landing file's bytes go: a file here, or an object being uploaded (s3-output.ts). */
export interface Sink {
  /** Takes `data` (which the writer reuses once this returns); false when the reader is behind. */
  write(data: Buffer): boolean;
  /** Settles once the reader has caught up (rejects when it failed). */
  drained(): Promise<void>;
  end(): void;
}

/** A new file, written synchronously: its reader is never behind. */
export function fileSink(path: string): Sink {
  const fd = openSync(path, 'wx');
  return {
    write(data) {
      let written = 0;
      while (written < data.length) written += writeSync(fd, data, written);
      return true;
    },
    drained: () => Promise.resolve(),
    end: () => closeSync(fd),
  };
}

const BUFFER_SIZE = 1 << 20;
const ROOM_PER_RECORD = 1 << 10; // flush before a record could overflow the buffer

/**
 * Appends to a landing file through one reused 1 MiB buffer and large writes to its sink: the hot
 * loop writes bytes and digits straight into it, so memory stays flat and no garbage is made per row.
 */
export class FileWriter {
  private readonly buffer = Buffer.allocUnsafe(BUFFER_SIZE);
  private offset = 0;
  bytes = 0;
  /** The sink's reader is behind: a long writer should stop and await `drained()`. */
  backlogged = false;

  constructor(private readonly sink: Sink) {}

  /** Any text, UTF-8 encoded; long strings are written through. */
  text(value: string): void {
    const encoded = Buffer.from(value, 'utf8');
    if (encoded.length > BUFFER_SIZE - this.offset) {
      this.flush();
      if (encoded.length > BUFFER_SIZE) {
        this.writeThrough(encoded);
        return;
      }
    }
    this.offset += encoded.copy(this.buffer, this.offset);
  }

  /** Call before each record written with bytes()/uint()/byte(). */
  reserve(): void {
    if (this.offset > BUFFER_SIZE - ROOM_PER_RECORD) this.flush();
  }

  /** Short byte strings (fields): a plain loop, as Buffer#copy allocates on every call. */
  bytesOf(value: Uint8Array): void {
    const buffer = this.buffer;
    let offset = this.offset;
    for (let i = 0; i < value.length; i++) buffer[offset++] = value[i] as number;
    this.offset = offset;
  }

  byte(code: number): void {
    this.buffer[this.offset++] = code;
  }

  /** A non-negative integer in decimal. */
  uint(value: number): void {
    let digits = 1;
    for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits++;
    let position = this.offset + digits;
    this.offset = position;
    let rest = value;
    do {
      const next = Math.floor(rest / 10);
      this.buffer[--position] = 48 + rest - next * 10;
      rest = next;
    } while (rest > 0);
  }

  drained(): Promise<void> {
    this.backlogged = false;
    return this.sink.drained();
  }

  close(): void {
    this.flush();
    this.sink.end();
  }

  private flush(): void {
    this.writeThrough(this.buffer.subarray(0, this.offset));
    this.offset = 0;
  }

  private writeThrough(data: Buffer): void {
    if (data.length === 0) return;
    if (!this.sink.write(data)) this.backlogged = true;
    this.bytes += data.length;
  }
}
