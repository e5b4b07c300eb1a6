import { stringify } from 'csv-stringify/sync';
import { type Month, monthKey } from '../engine/months.ts';
import { CHANNELS } from './catalog.ts';
import { type Customer, CustomerWorld } from './customers.ts';
import { FileWriter, type Sink } from './file-writer.ts';
import { TrafficMonth } from './traffic.ts';

export type GenerateOptions = {
  customers: number;
  months: number;
  end: Month;
  seed: number;
  /** Aborting stops between months; nothing is left behind (in a folder). */
  signal?: AbortSignal;
  /** Called after each month with the months done so far and the traffic rows written. */
  onProgress?: (progress: { monthsDone: number; months: number; trafficRows: number; month: string }) => void;
};

export type GenerateSummary = {
  out: string;
  files: number;
  rows: number;
  trafficRows: number;
  customerRows: number;
  bytes: number;
  seconds: number;
};

/** Where a landing zone is written: a folder (local-output.ts) or a bucket prefix (s3-output.ts). */
export interface LandingOutput {
  /** The folder or the s3:// URL, as the summary names it. */
  readonly name: string;
  /** A sink for one landing file, by its name in the zone (`traffic/2026-10.csv`). */
  open(name: string): Promise<Sink>;
  /** Every file is written: make them the landing zone. */
  commit(): Promise<void>;
  /** Something failed: remove what was staged. */
  discard(): Promise<void>;
}

/** Writes a complete landing zone (docs/contract.md §1) to `output`, committed only when every file is written. */
export async function generateLandingZone(
  output: LandingOutput,
  options: GenerateOptions,
): Promise<GenerateSummary> {
  const started = performance.now();
  let totals: Omit<GenerateSummary, 'out' | 'seconds'>;
  try {
    totals = await writeFiles(output, options);
    await output.commit();
  } catch (error) {
    await output.discard();
    throw error;
  }
  return { out: output.name, ...totals, seconds: (performance.now() - started) / 1000 };
}

async function writeFiles(output: LandingOutput, options: GenerateOptions) {
  const firstMonth = options.end - options.months + 1;
  const world = new CustomerWorld({
    customers: options.customers,
    firstMonth,
    lastMonth: options.end,
    seed: options.seed,
  });
  let bytes = await writeCsv(output, 'channels.csv', channelRows());
  let trafficRows = 0;
  let customerRows = 0;
  for (let month = firstMonth; month <= options.end; month++) {
    const snapshot = world.snapshot(month);
    bytes += await writeCsv(output, `customers/${monthKey(month)}.csv`, customerSnapshotRows(snapshot));
    customerRows += snapshot.length;
    const writer = new FileWriter(await output.open(`traffic/${monthKey(month)}.csv`));
    const traffic = new TrafficMonth(writer, snapshot, month, firstMonth, options.seed);
    // An upload's reader can fall behind; a file's never does, so locally this runs once.
    while (!traffic.write()) await writer.drained();
    writer.close();
    trafficRows += traffic.rows;
    bytes += writer.bytes;
    options.onProgress?.({
      monthsDone: month - firstMonth + 1,
      months: options.months,
      trafficRows,
      month: monthKey(month),
    });
    // Let a progress bar redraw and Ctrl-C land between months.
    await new Promise((resolveTick) => setImmediate(resolveTick));
    options.signal?.throwIfAborted();
  }
  const rows = CHANNELS.length + customerRows + trafficRows;
  return { files: 1 + 2 * options.months, rows, trafficRows, customerRows, bytes };
}

function channelRows(): string[][] {
  return [
    ['channel_id', 'channel_name', 'channel_type', 'unit_price_eur'],
    ...CHANNELS.map((c) => [String(c.id), c.name, c.type, c.unitPriceEur.toFixed(4)]),
  ];
}

function customerSnapshotRows(snapshot: readonly Customer[]): string[][] {
  return [
    ['customer_id', 'account_id', 'customer_name', 'segment', 'industry', 'country', 'created_date'],
    ...snapshot.map((c) => [
      String(c.customerId),
      String(c.accountId),
      c.name,
      c.segment,
      c.industry,
      c.country,
      c.createdDate,
    ]),
  ];
}

async function writeCsv(output: LandingOutput, name: string, rows: string[][]): Promise<number> {
  const writer = new FileWriter(await output.open(name));
  // RFC 4180: fields with commas, quotes or line breaks are quoted, quotes doubled.
  writer.text(stringify(rows, { record_delimiter: '\n' }));
  writer.close();
  return writer.bytes;
}
