import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse } from 'csv-parse/sync';

export type Row = Record<string, string>;

/** Parses a landing CSV strictly (RFC 4180, header row, exact field counts). */
export function readCsv(path: string): { header: string[]; rows: Row[] } {
  const text = readFileSync(path, 'utf8');
  const header = (parse(text, { to_line: 1 }) as string[][])[0] ?? [];
  const rows = parse(text, {
    columns: true,
    bom: true,
    relax_quotes: false,
    skip_empty_lines: false,
  }) as Row[];
  return { header, rows };
}

/** sha256 of every file under dir, keyed by relative path. */
export function hashTree(dir: string): Record<string, string> {
  const hashes: Record<string, string> = {};
  const walk = (current: string) => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) walk(path);
      else hashes[relative(dir, path)] = createHash('sha256').update(readFileSync(path)).digest('hex');
    }
  };
  walk(dir);
  return hashes;
}

export type ChannelRow = {
  channel_id: string;
  channel_name: string;
  channel_type: string;
  unit_price_eur: string;
};
export type CustomerRow = {
  customer_id: string;
  account_id: string;
  customer_name: string;
  segment: string;
  industry: string;
  country: string;
  created_date: string;
};
export type TrafficRow = {
  send_date: string;
  account_id: string;
  customer_id: string;
  channel_id: string;
  interactions_count: string;
  revenue_eur: string;
};

export type LandingZone = {
  channels: ChannelRow[];
  snapshots: Map<string, CustomerRow[]>; // month → rows
  traffic: Map<string, TrafficRow[]>;
};

export function readLandingZone(dir: string): LandingZone {
  const months = readdirSync(join(dir, 'customers'))
    .map((file) => file.replace(/\.csv$/, ''))
    .sort();
  return {
    // csv-parse checked the field counts against the header; the headers are asserted by the tests.
    channels: readCsv(join(dir, 'channels.csv')).rows as ChannelRow[],
    snapshots: new Map(
      months.map((m) => [m, readCsv(join(dir, 'customers', `${m}.csv`)).rows as CustomerRow[]]),
    ),
    traffic: new Map(months.map((m) => [m, readCsv(join(dir, 'traffic', `${m}.csv`)).rows as TrafficRow[]])),
  };
}
