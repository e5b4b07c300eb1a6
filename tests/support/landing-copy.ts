import { chmodSync, cpSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Sql } from 'postgres';

/** The small fixture landing zone (channels.csv, customers/*.csv, traffic/*.csv for 2025-09..2026-10). */
export const FIXTURE_LANDING = fileURLToPath(new URL('../fixtures/small/landing', import.meta.url));

/** A writable temporary copy of the fixture landing zone, for a test to corrupt; the caller removes it. */
export function copyLanding(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pipeline-landing-'));
  cpSync(FIXTURE_LANDING, dir, { recursive: true });
  const makeWritable = (current: string) => {
    chmodSync(current, 0o755);
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) makeWritable(path);
      else chmodSync(path, 0o644);
    }
  };
  makeWritable(dir);
  return dir;
}

/** Each ingest table and the order of its primary key. */
const CHECKSUMMED: Record<string, string> = {
  channels: 'channel_id',
  customers: 'customer_id',
  customer_snapshots: 'snapshot_month, customer_id',
  traffic: 'traffic_id',
  rejected_rows: 'id',
};

/**
 * md5 of every row (all columns, as text) of each ingest table, in primary-key order: equal
 * checksums mean the tables hold exactly the same rows.
 */
export async function tableChecksums(sql: Sql): Promise<Record<string, string>> {
  const checksums: Record<string, string> = {};
  for (const [table, key] of Object.entries(CHECKSUMMED)) {
    const order = key
      .split(', ')
      .map((column) => `t.${column}`)
      .join(', ');
    const [row] = await sql.unsafe<{ md5: string }[]>(
      `select md5(coalesce(string_agg(t::text, '|' order by ${order}), '')) as md5 from ${table} t`,
    );
    checksums[table] = row?.md5 ?? '';
  }
  return checksums;
}
