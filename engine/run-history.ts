import { asc, count, desc, eq, inArray, sql } from 'drizzle-orm';
import { checkResults, materializations, nodeAttempts, runNodes, runs } from '../schema/engine.ts';
import type { Database } from './database.ts';
import type { NodeStatus } from './run-store.ts';

/**
 * The read side of run history, for the CLI and the dashboard: runs, their nodes and attempts,
 * materializations and check results. Every query here is indexed (pages answer in < 100 ms with
 * 1 000 runs); nothing else reads the engine's tables.
 */

export type RunRow = typeof runs.$inferSelect;
export type RunNodeRow = typeof runNodes.$inferSelect;
export type AttemptRow = typeof nodeAttempts.$inferSelect;
export type CheckResultRow = typeof checkResults.$inferSelect;
export type MaterializationRow = typeof materializations.$inferSelect;
export type RunSummaryRow = RunRow & { nodeCounts: Partial<Record<NodeStatus, number>> };
export type RunDetail = {
  run: RunRow;
  nodes: RunNodeRow[];
  attempts: AttemptRow[];
  checks: CheckResultRow[];
};

/** Each asset's latest node (any run): its status, partition, time, duration and rows. */
export type AssetActivity = {
  assetKey: string;
  status: string | null;
  partitionKey: string | null;
  at: Date | null;
  durationMs: number | null;
  rowCount: number | null;
  runId: string | null;
};

export type Materialization = {
  runId: string;
  partitionKey: string;
  materializedAt: Date;
  durationMs: number;
  rowCount: number | null;
  metadata: Record<string, unknown>;
};

export type LatestCheck = {
  checkName: string;
  severity: string;
  passed: boolean;
  message: string | null;
  partitionKey: string;
  createdAt: Date;
};

export class RunHistory {
  constructor(private readonly database: Pick<Database, 'sql' | 'db'>) {}

  async getRun(runId: string): Promise<RunDetail | undefined> {
    const { db } = this.database;
    const [run] = await db.select().from(runs).where(eq(runs.id, runId));
    if (!run) return undefined;
    const [nodes, attempts, checks] = await Promise.all([
      db.select().from(runNodes).where(eq(runNodes.runId, runId)).orderBy(runNodes.position),
      db
        .select()
        .from(nodeAttempts)
        .where(eq(nodeAttempts.runId, runId))
        .orderBy(asc(nodeAttempts.startedAt), asc(nodeAttempts.attempt)),
      db.select().from(checkResults).where(eq(checkResults.runId, runId)).orderBy(checkResults.id),
    ]);
    return { run, nodes, attempts, checks };
  }

  /** Runs whose id starts with `prefix` (users type the first 8 characters); at most two. */
  async findRunIds(prefix: string): Promise<string[]> {
    if (!/^[0-9a-f-]{1,36}$/i.test(prefix)) return [];
    const rows = await this.database.db
      .select({ id: runs.id })
      .from(runs)
      .where(sql`${runs.id}::text like ${`${prefix.toLowerCase()}%`}`)
      .limit(2);
    return rows.map((row) => row.id);
  }

  async listRuns(limit = 50, offset = 0): Promise<RunSummaryRow[]> {
    const { db } = this.database;
    const recent = await db
      .select()
      .from(runs)
      .orderBy(desc(runs.createdAt), desc(runs.id))
      .limit(limit)
      .offset(offset);
    if (recent.length === 0) return [];
    const counts = await db
      .select({ runId: runNodes.runId, status: runNodes.status, n: count() })
      .from(runNodes)
      .where(
        inArray(
          runNodes.runId,
          recent.map((run) => run.id),
        ),
      )
      .groupBy(runNodes.runId, runNodes.status)
      .orderBy(runNodes.runId, runNodes.status);
    return recent.map((run) => ({
      ...run,
      nodeCounts: Object.fromEntries(
        counts.filter((c) => c.runId === run.id).map((c) => [c.status as NodeStatus, c.n]),
      ),
    }));
  }

  /** The latest materialization of each asset (any partition). */
  async lastMaterializations(): Promise<Map<string, MaterializationRow>> {
    const rows = await this.database.db
      .selectDistinctOn([materializations.assetKey])
      .from(materializations)
      .orderBy(materializations.assetKey, desc(materializations.materializedAt), desc(materializations.id));
    return new Map(rows.map((row) => [row.assetKey, row]));
  }

  /** Each asset's latest started node (any run): one index probe per asset. */
  async assetActivity(keys: readonly string[]): Promise<Map<string, AssetActivity>> {
    const rows = await this.database.sql<AssetActivity[]>`
      select k.key as "assetKey", n.status, n.partition_key as "partitionKey",
        coalesce(n.finished_at, n.started_at) as at, n.duration_ms as "durationMs",
        (n.metadata->>'rowCount')::bigint as "rowCount", n.run_id as "runId"
      from unnest(${keys as string[]}::text[]) as k(key)
      left join lateral (
        select * from run_nodes r where r.asset_key = k.key and r.started_at is not null
        order by r.started_at desc limit 1
      ) n on true`;
    return new Map(rows.map((row) => [row.assetKey, { ...row, rowCount: numberOrNull(row.rowCount) }]));
  }

  async materializationHistory(key: string, limit = 50): Promise<Materialization[]> {
    const rows = await this.database.sql<Materialization[]>`
      select run_id as "runId", partition_key as "partitionKey", materialized_at as "materializedAt",
        duration_ms as "durationMs", (metadata->>'rowCount')::bigint as "rowCount", metadata
      from materializations where asset_key = ${key}
      order by materialized_at desc, id desc limit ${limit}`;
    return rows.map((row) => ({ ...row, rowCount: numberOrNull(row.rowCount) }));
  }

  /** The latest result of each of the asset's checks. */
  async latestChecks(key: string): Promise<LatestCheck[]> {
    return this.database.sql<LatestCheck[]>`
      select distinct on (check_name) check_name as "checkName", severity, passed, message,
        partition_key as "partitionKey", created_at as "createdAt"
      from check_results where asset_key = ${key}
      order by check_name, created_at desc, id desc`;
  }
}

const numberOrNull = (value: unknown) => (value === null || value === undefined ? null : Number(value));
