import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { UsageError } from '../engine/errors.ts';
import { type Month, monthKey } from '../engine/months.ts';
import { CHANNELS } from './catalog.ts';
import { type Customer, CustomerWorld } from './customers.ts';
import { FileWriter } from './file-writer.ts';
import { writeTrafficMonth } from './traffic.ts';

export type GenerateOptions = {
  out: string;
  customers: number;
  months: number;
  end: Month;
  seed: number;
  /** Aborting stops between months; nothing is left behind. */
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

const LANDING_ENTRIES = new Set(['channels.csv', 'customers', 'traffic']);

/**
 * Writes a complete landing zone (docs/contract.md §1) into a staging folder next to `out` and
 * moves it into place only when every file is written, so a failure or Ctrl-C never leaves half a
 * drop behind.
 */
export async function generateLandingZone(options: GenerateOptions): Promise<GenerateSummary> {
  const started = performance.now();
  const out = resolve(options.out);
  assertReplaceable(out);
  const staging = join(dirname(out), `.${basename(out)}.partial-${process.pid}`);
  prepareStaging(staging, out);
  const removeStaging = () => rmSync(staging, { recursive: true, force: true });
  process.once('exit', removeStaging);
  try {
    const totals = await writeFiles(staging, options);
    swapIntoPlace(staging, out);
    return { out, ...totals, seconds: (performance.now() - started) / 1000 };
  } finally {
    removeStaging();
    process.removeListener('exit', removeStaging);
  }
}

async function writeFiles(dir: string, options: GenerateOptions) {
  const firstMonth = options.end - options.months + 1;
  const world = new CustomerWorld({
    customers: options.customers,
    firstMonth,
    lastMonth: options.end,
    seed: options.seed,
  });
  mkdirSync(join(dir, 'customers'));
  mkdirSync(join(dir, 'traffic'));
  let bytes = writeCsv(join(dir, 'channels.csv'), channelRows());
  let trafficRows = 0;
  let customerRows = 0;
  for (let month = firstMonth; month <= options.end; month++) {
    const snapshot = world.snapshot(month);
    bytes += writeCsv(join(dir, 'customers', `${monthKey(month)}.csv`), customerSnapshotRows(snapshot));
    customerRows += snapshot.length;
    const traffic = new FileWriter(join(dir, 'traffic', `${monthKey(month)}.csv`));
    trafficRows += writeTrafficMonth(traffic, snapshot, month, firstMonth, options.seed);
    traffic.close();
    bytes += traffic.bytes;
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

function writeCsv(path: string, rows: string[][]): number {
  const writer = new FileWriter(path);
  // RFC 4180: fields with commas, quotes or line breaks are quoted, quotes doubled.
  writer.text(stringify(rows, { record_delimiter: '\n' }));
  writer.close();
  return writer.bytes;
}

/** Refuses to replace anything but an earlier landing zone, so --out . cannot wipe a project. */
function assertReplaceable(out: string): void {
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory()) throw new UsageError(`--out ${out} exists and is not a directory`);
  const foreign = readdirSync(out).filter((entry) => !LANDING_ENTRIES.has(entry));
  if (foreign.length > 0) {
    throw new UsageError(
      `--out ${out} is not empty and not a landing zone (it holds ${foreign.slice(0, 3).join(', ')}): choose an empty or new folder`,
    );
  }
}

function prepareStaging(staging: string, out: string): void {
  try {
    rmSync(staging, { recursive: true, force: true });
    makeParents(dirname(out));
    mkdirSync(staging);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`--out ${out} is not writable (${code ?? String(error)})`, { cause: error });
  }
}

/**
 * mkdir -p one level at a time: Node's recursive mkdir never returns for a path under /proc
 * (it retries ENOENT forever), and a typo in --out must end in an error, not a hang.
 */
function makeParents(dir: string): void {
  if (existsSync(dir)) return;
  const parent = dirname(dir);
  if (parent !== dir) makeParents(parent);
  mkdirSync(dir);
}

function swapIntoPlace(staging: string, out: string): void {
  const previous = `${staging}.previous`;
  if (existsSync(out)) renameSync(out, previous);
  try {
    renameSync(staging, out);
  } catch (error) {
    // Put the earlier drop back rather than leave neither.
    if (existsSync(previous)) renameSync(previous, out);
    throw error;
  }
  rmSync(previous, { recursive: true, force: true });
}
