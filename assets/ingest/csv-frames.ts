import { isUtf8 } from 'node:buffer';
import { Transform, type TransformCallback } from 'node:stream';
import type { FieldShape } from './field-shapes.ts';

const QUOTE = 34;
const COMMA = 44;
const LF = 10;
const CR = 13;
const NUL = 0;

export type FrameProblem = { line: number; reason: string };

/** A stream with `onlyOnShape` met a record that needs the detailed (SQL) checks. */
export class NotOnShape extends Error {
  constructor() {
    super('the file has records that need the detailed checks');
  }
}

export type FrameOptions = {
  /** Per column in file order: the shape its values should have (undefined: anything goes). */
  shapes?: readonly (FieldShape | undefined)[];
  /**
   * Stop passing bytes on at the first record with a field off its shape, and fail the stream:
   * for a COPY into typed columns, which must never see a value it could reject.
   */
  onlyOnShape?: boolean;
  /** A column (index in file order) of decimals with `scale` decimals to add up as they pass. */
  total?: { column: number; scale: number };
  /**
   * The longest record allowed, in bytes (its line break excluded): a longer one is reported at
   * the line it starts on and ends the stream at once, so neither COPY nor memory ever holds it.
   */
  maxRecordBytes?: number;
};

// Field values longer than this are not shape-checked byte by byte: the SQL rules judge them.
const FIELD_BUFFER = 256;

/**
 * Passes CSV bytes through unchanged while checking what would make PostgreSQL's COPY reject the
 * whole stream: field counts, unterminated quotes, invalid UTF-8 and NUL bytes. COPY then never
 * fails half-way, every structural problem gets its own line number, and records that span
 * several physical lines (quoted line breaks) are remembered so record numbers map back to lines.
 */
export class CsvFrameChecker extends Transform {
  /** 1-based physical line where the current record starts. */
  private line: number;
  private recordStartLine: number;
  private fields = 1;
  private fieldStart = true;
  private inQuotes = false;
  private quoteClosed = false;
  private sawData = false;
  /** The byte before was the quote that closed a quoted field (it may be the first of ""). */
  private previousWasQuote = false;
  private lastInvalidLine = 0;
  private lineEnding: 'LF' | 'CRLF' | undefined;
  private carriageReturnBeforeLf = false;
  private pendingCarriageReturn = false;
  private carry: Buffer = Buffer.alloc(0); // an incomplete UTF-8 sequence at a chunk's end
  /** Bytes of the current record in earlier chunks. */
  private recordBytes = 0;
  private recordTooLong = false;
  records = 0;
  readonly problems: FrameProblem[] = [];
  problemCount = 0;
  /** [record number, extra lines of it and every multi-line record before it], in record order. */
  readonly multiline: [number, number][] = [];
  /** Records with at least one field that does not have its shape. */
  recordsOffShape = 0;
  private readonly field = new Uint8Array(FIELD_BUFFER);
  private fieldLength = 0;
  private fieldQuoted = false;
  private recordOffShape = false;
  private readonly shapes: readonly (FieldShape | undefined)[];
  private readonly total: DecimalTotal | undefined;
  private readonly maxRecordBytes: number;

  constructor(
    private readonly expectedFields: number,
    firstLine: number,
    private readonly options: FrameOptions = {},
  ) {
    super();
    this.line = firstLine;
    this.recordStartLine = firstLine;
    this.shapes = options.shapes ?? [];
    this.total = options.total && new DecimalTotal(options.total.scale);
    this.maxRecordBytes = options.maxRecordBytes ?? Number.POSITIVE_INFINITY;
  }

  /** The sum of the `total` column, in units of 10^-scale (exact). */
  get totalUnits(): bigint {
    return this.total?.units ?? 0n;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.checkEncoding(chunk);
    this.scan(chunk);
    // Once the file is known to be broken nothing more reaches COPY; the scan goes on to count.
    if (this.options.onlyOnShape && (this.recordsOffShape > 0 || this.problemCount > 0)) {
      callback(new NotOnShape());
      return;
    }
    // …except past a record too long: the rest of a file that may be gigabytes is not worth it.
    if (this.recordTooLong) {
      callback(new Error(`a record longer than ${this.maxRecordBytes} bytes`));
      return;
    }
    callback(null, this.problemCount === 0 ? chunk : undefined);
  }

  override _flush(callback: TransformCallback): void {
    if (this.carry.length > 0)
      this.report(this.line, 'invalid UTF-8 (a truncated character at the end of the file)');
    if (this.pendingCarriageReturn) this.report(this.line, 'a carriage return inside an unquoted field');
    if (this.inQuotes) this.report(this.recordStartLine, 'unclosed quote: the quoted field never ends');
    else if (this.sawData) this.endRecord();
    // Failing the stream aborts the COPY (CopyFail) instead of letting it load half a file.
    if (this.options.onlyOnShape && (this.recordsOffShape > 0 || this.problemCount > 0)) {
      callback(new NotOnShape());
    } else callback(this.problemCount > 0 ? new Error(`${this.problemCount} structural problems`) : null);
  }

  /** The physical line of a record (1 = the first record after the header). */
  lineOfRecord(record: number, firstLine: number): number {
    // Binary search for the multi-line records before this one; `multiline` holds running totals.
    let low = 0;
    let high = this.multiline.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if ((this.multiline[middle]?.[0] ?? 0) < record) low = middle + 1;
      else high = middle;
    }
    return firstLine + record - 1 + (low > 0 ? (this.multiline[low - 1]?.[1] ?? 0) : 0);
  }

  private report(line: number, reason: string): void {
    this.problemCount++;
    if (this.problems.length < 20) this.problems.push({ line, reason });
  }

  private checkEncoding(chunk: Buffer): void {
    const bytes = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    // A chunk may end inside a multi-byte character: hold back up to 3 trailing bytes.
    let end = bytes.length;
    for (let back = 1; back <= 3 && back <= bytes.length; back++) {
      const byte = bytes[bytes.length - back] as number;
      if ((byte & 0xc0) === 0xc0) {
        const width = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
        if (width > back) end = bytes.length - back;
        break;
      }
      if ((byte & 0x80) === 0) break;
    }
    this.carry = Buffer.from(bytes.subarray(end));
    const complete = bytes.subarray(0, end);
    if (!isUtf8(complete)) this.locateInvalidUtf8(complete);
  }

  /** Rare path: finds the lines of invalid UTF-8 in a chunk by decoding it line by line. */
  private locateInvalidUtf8(bytes: Buffer): void {
    let line = this.line;
    let start = 0;
    while (start < bytes.length) {
      const newline = bytes.indexOf(LF, start);
      const end = newline === -1 ? bytes.length : newline + 1;
      // A bad sequence split across chunks is seen twice: report each line once.
      if (!isUtf8(bytes.subarray(start, end)) && line !== this.lastInvalidLine) {
        this.report(line, 'invalid UTF-8');
        this.lastInvalidLine = line;
      }
      line++;
      start = end;
    }
  }

  /** Checks the field just ended against its column's shape. */
  private endField(): void {
    const shape = this.shapes[this.fields - 1];
    if (
      shape &&
      !(this.fieldLength <= FIELD_BUFFER && shape(this.field, this.fieldLength, this.fieldQuoted))
    ) {
      this.recordOffShape = true;
    } else if (this.total && this.fields - 1 === this.options.total?.column) {
      this.total.add(this.field, this.fieldLength);
    }
    this.fieldLength = 0;
    this.fieldQuoted = false;
  }

  private endRecord(): void {
    this.endField();
    if (this.recordOffShape) this.recordsOffShape++;
    this.recordOffShape = false;
    this.records++;
    if (this.fields !== this.expectedFields) {
      this.report(this.recordStartLine, `expected ${this.expectedFields} fields, found ${this.fields}`);
    }
    if (this.line > this.recordStartLine)
      this.multiline.push([
        this.records,
        (this.multiline.at(-1)?.[1] ?? 0) + this.line - this.recordStartLine,
      ]);
    this.fields = 1;
    this.fieldStart = true;
    this.quoteClosed = false;
    this.sawData = false;
  }

  /**
   * COPY takes the first data line's ending (LF or CRLF) for the whole file and fails on a line
   * that ends otherwise, so a file that mixes them is reported line by line.
   */
  private checkLineEnd(): void {
    const ending = this.carriageReturnBeforeLf ? 'CRLF' : 'LF';
    this.carriageReturnBeforeLf = false;
    if (this.lineEnding === undefined) this.lineEnding = ending;
    else if (ending !== this.lineEnding) {
      this.report(this.line, `line ends with ${ending}, earlier lines with ${this.lineEnding}`);
    }
  }

  private keep(byte: number): void {
    if (this.fieldLength < FIELD_BUFFER) this.field[this.fieldLength] = byte;
    this.fieldLength++;
  }

  /** A record that grew past the limit: reported once, and the scan stops. */
  private tooLong(bytes: number): boolean {
    if (bytes <= this.maxRecordBytes) return false;
    this.report(
      this.recordStartLine,
      `record longer than ${this.maxRecordBytes} bytes (PIPELINE_MAX_RECORD_BYTES)`,
    );
    this.recordTooLong = true;
    return true;
  }

  /** RFC 4180 state machine over one chunk; state carries over between chunks. */
  private scan(chunk: Buffer): void {
    let recordStart = 0; // where the current record starts in this chunk
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i] as number;
      if (this.inQuotes) {
        if (byte === QUOTE) {
          // Closes the field, unless the next byte is another quote ("" is an escaped quote).
          this.inQuotes = false;
          this.quoteClosed = true;
          this.previousWasQuote = true;
        } else {
          if (byte === LF) this.line++;
          else if (byte === NUL) this.report(this.line, 'NUL byte');
          this.keep(byte);
        }
        continue;
      }
      if (byte === QUOTE && this.quoteClosed && this.previousWasQuote) {
        this.inQuotes = true; // "" inside a quoted field is an escaped quote
        this.quoteClosed = false;
        this.previousWasQuote = false;
        this.keep(byte);
        continue;
      }
      this.previousWasQuote = false;
      if (this.pendingCarriageReturn) {
        // A CR was the previous chunk's last byte: it ended a CRLF line only if this is the LF.
        this.pendingCarriageReturn = false;
        if (byte === LF) this.carriageReturnBeforeLf = true;
        else this.report(this.line, 'a carriage return inside an unquoted field');
      }
      if (byte === CR) {
        if (i + 1 === chunk.length) this.pendingCarriageReturn = true;
        else if (chunk[i + 1] === LF) this.carriageReturnBeforeLf = true;
        else this.report(this.line, 'a carriage return inside an unquoted field');
        continue;
      }
      if (byte === LF) {
        const bytes = this.recordBytes + i - recordStart - (this.carriageReturnBeforeLf ? 1 : 0);
        if (this.tooLong(bytes)) return;
        this.recordBytes = 0;
        recordStart = i + 1;
        this.checkLineEnd();
        this.endRecord();
        this.line++;
        this.recordStartLine = this.line;
      } else if (byte === COMMA) {
        this.endField();
        this.fields++;
        this.fieldStart = true;
        this.quoteClosed = false;
        this.sawData = true;
      } else if (byte === QUOTE) {
        if (this.fieldStart) {
          this.inQuotes = true;
          this.fieldQuoted = true;
        } else this.report(this.line, 'a quote inside an unquoted field');
        this.fieldStart = false;
        this.sawData = true;
      } else {
        if (byte === NUL) this.report(this.line, 'NUL byte');
        else if (this.quoteClosed) this.report(this.line, 'text after a closing quote');
        this.keep(byte);
        this.fieldStart = false;
        this.sawData = true;
      }
    }
    this.recordBytes += chunk.length - recordStart;
    // A CR at the chunk's end may be the first half of the record's CRLF, which does not count.
    this.tooLong(this.recordBytes - (this.pendingCarriageReturn ? 1 : 0));
  }
}

/**
 * Adds up decimals written [0-9]+(.[0-9]+)? exactly, in units of 10^-scale: in a double while it
 * is exact (below 2^53), moved into a bigint before it could round.
 */
class DecimalTotal {
  private pending = 0;
  private carried = 0n;

  constructor(private readonly scale: number) {}

  get units(): bigint {
    return this.carried + BigInt(this.pending);
  }

  add(bytes: Uint8Array, length: number): void {
    let units = 0;
    let decimals = -1;
    for (let i = 0; i < length; i++) {
      const byte = bytes[i] as number;
      if (byte === DOT) decimals = 0;
      else {
        units = units * 10 + byte - ZERO;
        if (decimals >= 0) decimals++;
      }
    }
    for (let d = Math.max(decimals, 0); d < this.scale; d++) units *= 10;
    this.pending += units;
    if (this.pending > FLUSH_AT) {
      this.carried += BigInt(this.pending);
      this.pending = 0;
    }
  }
}

const DOT = 46;
const ZERO = 48;
// Far enough below 2^53 that adding one more value (≤ 10^15 units) stays exact.
const FLUSH_AT = 2 ** 52;
