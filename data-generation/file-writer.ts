import { closeSync, openSync, writeSync } from 'node:fs';

const BUFFER_SIZE = 1 << 20;
const ROOM_PER_RECORD = 1 << 10; // flush before a record could overflow the buffer

/**
 * Appends to a file through one reused 1 MiB buffer and large synchronous writes: the hot loop
 * writes bytes and digits straight into it, so memory stays flat and no garbage is made per row.
 */
export class FileWriter {
  private readonly fd: number;
  private readonly buffer = Buffer.allocUnsafe(BUFFER_SIZE);
  private offset = 0;
  bytes = 0;

  constructor(path: string) {
    this.fd = openSync(path, 'wx');
  }

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

  close(): void {
    this.flush();
    closeSync(this.fd);
  }

  private flush(): void {
    this.writeThrough(this.buffer.subarray(0, this.offset));
    this.offset = 0;
  }

  private writeThrough(data: Buffer): void {
    let written = 0;
    while (written < data.length) written += writeSync(this.fd, data, written);
    this.bytes += data.length;
  }
}
