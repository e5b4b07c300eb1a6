import type { Sql } from 'postgres';

/** What the dashboard reads, in a few indexed queries (pages answer in < 100 ms with 1 000 runs). */

export type AssetState = {
  assetKey: string;
  status: string | null;
  partitionKey: string | null;
  at: Date | null;
  durationMs: number | null;
  rowCount: number | null;
  runId: string | null;
};

/** Each asset's latest node (any run): its status, partition, time, duration and rows. */
export async function assetStates(sql: Sql, keys: readonly string[]): Promise<Map<string, AssetState>> {
  const rows = await sql<AssetState[]>`
    select k.key as "assetKey", n.status, n.partition_key as "partitionKey",
      coalesce(n.finished_at, n.started_at) as at, n.duration_ms as "durationMs",
      (n.metadata->>'rowCount')::bigint as "rowCount", n.run_id as "runId"
    from unnest(${keys as string[]}::text[]) as k(key)
    left join lateral (
      select * from run_nodes r where r.asset_key = k.key and r.started_at is not null
      order by r.started_at desc limit 1
    ) n on true`;
  return new Map(
    rows.map((row) => [
      row.assetKey,
      { ...row, rowCount: row.rowCount === null ? null : Number(row.rowCount) },
    ]),
  );
}

export type Materialization = {
  runId: string;
  partitionKey: string;
  materializedAt: Date;
  durationMs: number;
  rowCount: number | null;
  metadata: Record<string, unknown>;
};

export async function materializationHistory(sql: Sql, key: string, limit = 50): Promise<Materialization[]> {
  const rows = await sql<Materialization[]>`
    select run_id as "runId", partition_key as "partitionKey", materialized_at as "materializedAt",
      duration_ms as "durationMs", (metadata->>'rowCount')::bigint as "rowCount", metadata
    from materializations where asset_key = ${key}
    order by materialized_at desc, id desc limit ${limit}`;
  return rows.map((row) => ({ ...row, rowCount: row.rowCount === null ? null : Number(row.rowCount) }));
}

export type CheckState = {
  checkName: string;
  severity: string;
  passed: boolean;
  message: string | null;
  partitionKey: string;
  createdAt: Date;
};

/** The latest result of each of the asset's checks. */
export async function latestChecks(sql: Sql, key: string): Promise<CheckState[]> {
  return sql<CheckState[]>`
    select distinct on (check_name) check_name as "checkName", severity, passed, message,
      partition_key as "partitionKey", created_at as "createdAt"
    from check_results where asset_key = ${key}
    order by check_name, created_at desc, id desc`;
}
