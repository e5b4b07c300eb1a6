import type { SourceObservation } from './asset.ts';
import type { Database } from './database.ts';
import type { AssetGraph } from './graph.ts';
import { inputsOf } from './lineage.ts';
import { monthKey, monthRange, parseMonth } from './months.ts';
import { nodeId } from './node.ts';
import { partitionKeys } from './plan.ts';

/**
 * The state of every (asset, partition): materialized, stale (and why), missing, failed,
 * running, or absent outside the data's span — read from the latest materialization and the
 * latest attempt of each cell (two indexed queries for the whole grid), the sources' listings,
 * and the asset definitions. Staleness is decided in graph order, so it is transitive.
 */

export type PartitionState = 'materialized' | 'stale' | 'missing' | 'failed' | 'running' | 'absent';

export type CellState = {
  assetKey: string;
  /** YYYY-MM, or '' for an unpartitioned asset. */
  partitionKey: string;
  state: PartitionState;
  /** Why it is stale, failed or missing; a warning on a materialized cell (its landing file deleted). */
  reason: string | null;
  /** The latest successful materialization, if any. */
  materializedAt: Date | null;
  dataVersion: string | null;
  /** The run of the latest success, or of the failure or attempt the state comes from. */
  runId: string | null;
};

export type AssetStateGrid = {
  /** The data's months: from the first to the last with a source (a landing file) — without sources, with a materialization. */
  span: { first: string; last: string } | undefined;
  /**
   * Every partitioned cell's month computed, ascending: the span (without sources, the months
   * materialized), widened to the range asked.
   */
  months: string[];
  cell: (assetKey: string, partitionKey: string) => CellState;
  cells: () => CellState[];
};

type Materialized = {
  asset_key: string;
  partition_key: string;
  run_id: string;
  materialized_at: Date;
  data_version: string | null;
  code_version: string | null;
  inputs: [string, string, string | null][] | null;
  source: { name: string; fingerprint: string; sha256: string } | null;
  id: string;
};

type Attempt = {
  asset_key: string;
  partition_key: string;
  status: string;
  error: string | null;
  run_id: string;
  started_at: Date;
};

/** Why a cell of an asset with a source is missing when its source is not there. */
export const NO_SOURCE = 'no landing file';

/** Reasons listed on a stale cell before "and N more". */
const REASONS_SHOWN = 3;

export async function assetState<Config>(options: {
  database: Pick<Database, 'sql'>;
  graph: AssetGraph<Config>;
  config: Config;
  /** Months to cover besides the data's span (a range asked for). */
  range?: { from: string; to: string };
  /** The most months a range asked for may cover (checked before anything is read). */
  maxPartitions?: number;
}): Promise<AssetStateGrid> {
  const { graph, config } = options;
  if (options.range) partitionKeys(options.range.from, options.range.to, options.maxPartitions);
  const sql = options.database.sql;
  const sourced = graph.keys.filter((key) => graph.get(key).source);
  const observed = new Map<string, Map<string, SourceObservation>>(
    await Promise.all(
      sourced.map(async (key) => [key, await (graph.get(key).source?.observe(config) ?? new Map())] as const),
    ),
  );
  // The span: months with a landing file, or loaded from one (a deleted file keeps its data).
  const [loaded] = await sql<{ first: string | null; last: string | null }[]>`
    select min(partition_key) as first, max(partition_key) as last from materializations
    where asset_key = any (${sourced.length > 0 ? sourced : graph.keys}::text[]) and partition_key <> ''`;
  const sourceMonths = [...observed.values()]
    .flatMap((found) => [...found.keys()])
    .filter((key) => key !== '');
  const ends = [...sourceMonths, loaded?.first, loaded?.last].filter((m): m is string => Boolean(m)).sort();
  const dataMonths = ends.length > 0 ? { first: ends[0] as string, last: ends.at(-1) as string } : undefined;
  const span = sourced.length > 0 ? dataMonths : undefined;
  // Without sources nothing marks months absent: a range asked for is all there is to compute
  // (months around it count as absent); only a look at everything shows the months materialized.
  const shown = span ?? (options.range ? undefined : dataMonths);
  const bounds = [shown?.first, shown?.last, options.range?.from, options.range?.to].filter(
    (m): m is string => Boolean(m),
  );
  bounds.sort();
  const months =
    bounds.length > 0
      ? monthRange(parseMonth(bounds[0] as string), parseMonth(bounds.at(-1) as string)).map(monthKey)
      : [];
  const from = months[0] ?? '';
  const to = months.at(-1) ?? '';

  const [materialized, attempts] = await Promise.all([
    // The latest materialization of each cell: found in the index, then read by id.
    sql<Materialized[]>`
      with latest as (
        select distinct on (asset_key, partition_key) id from materializations
        where partition_key = '' or partition_key between ${from} and ${to}
        order by asset_key, partition_key, materialized_at desc, id desc)
      select m.asset_key, m.partition_key, m.run_id, m.materialized_at, m.data_version, m.code_version,
        m.inputs, m.source, m.id
      from materializations m join latest using (id)`,
    // The latest attempt of each cell that is running or failed (a failure counts when it is newer
    // than the cell's latest materialization).
    sql<Attempt[]>`
      select distinct on (asset_key, partition_key) asset_key, partition_key, status, error, run_id, started_at
      from run_nodes
      where status in ('running', 'failed') and (partition_key = '' or partition_key between ${from} and ${to})
      order by asset_key, partition_key, started_at desc`,
  ]);
  const key = (assetKey: string, partitionKey: string) => nodeId(assetKey, partitionKey);
  // The pool is shared with Drizzle, which leaves timestamps as text: made Dates once, here.
  const latest = new Map(
    materialized.map((row) => [
      key(row.asset_key, row.partition_key),
      { ...row, materialized_at: new Date(row.materialized_at) },
    ]),
  );
  const lastAttempt = new Map(
    attempts.map((row) => [
      key(row.asset_key, row.partition_key),
      { ...row, started_at: new Date(row.started_at) },
    ]),
  );
  const inSpan = (month: string) => !span || (month >= span.first && month <= span.last);

  const cells = new Map<string, CellState>();
  const cell = (assetKey: string, partitionKey: string): CellState => {
    const found = cells.get(key(assetKey, partitionKey));
    if (found) return found;
    // Outside the computed months (before the span, past the range): nothing is expected there.
    return {
      assetKey,
      partitionKey,
      state: 'absent',
      reason: null,
      materializedAt: null,
      dataVersion: null,
      runId: null,
    };
  };
  const fingerprintsToRefresh: { id: string; fingerprint: string }[] = [];
  const sourcesToRecord: { id: string; source: Materialized['source'] }[] = [];

  for (const assetKey of graph.order) {
    const asset = graph.get(assetKey);
    for (const partitionKey of asset.partitions ? months : ['']) {
      const id = key(assetKey, partitionKey);
      const mat = latest.get(id);
      const attempt = lastAttempt.get(id);
      const base = {
        assetKey,
        partitionKey,
        materializedAt: mat?.materialized_at ?? null,
        dataVersion: mat?.data_version ?? null,
        runId: mat?.run_id ?? null,
      };
      const set = (state: PartitionState, reason: string | null, runId = base.runId) =>
        cells.set(id, { ...base, state, reason, runId });
      if (asset.partitions && !inSpan(partitionKey)) {
        set('absent', null);
        continue;
      }
      if (attempt?.status === 'running') {
        set('running', null, attempt.run_id);
        continue;
      }
      if (attempt?.status === 'failed' && (!mat || attempt.started_at > mat.materialized_at)) {
        set('failed', attempt.error, attempt.run_id);
        continue;
      }
      const observation = observed.get(assetKey)?.get(partitionKey);
      if (!mat) {
        set('missing', asset.source && !observation ? NO_SOURCE : null);
        continue;
      }
      const reasons: string[] = [];
      if (mat.code_version !== null && mat.code_version !== asset.version) {
        reasons.push(`code version changed (${mat.code_version} → ${asset.version})`);
      }
      let warning: string | null = null;
      if (asset.source) {
        if (!observation) warning = 'landing file deleted';
        else if (!mat.source) {
          // Loaded before data versions existed: it counts as current; its version is taken now.
          const sha256 = await asset.source.sha256(config, partitionKey);
          sourcesToRecord.push({
            id: mat.id,
            source: { name: observation.name, fingerprint: observation.fingerprint, sha256 },
          });
        } else if (observation.fingerprint !== mat.source.fingerprint) {
          const sha256 = await asset.source.sha256(config, partitionKey);
          if (sha256 !== mat.source.sha256) reasons.push(`landing file changed (${observation.name})`);
          else fingerprintsToRefresh.push({ id: mat.id, fingerprint: observation.fingerprint });
        }
      }
      reasons.push(...inputReasons(graph, mat, cell, latest));
      if (reasons.length > 0) {
        const more = reasons.length > REASONS_SHOWN ? `, and ${reasons.length - REASONS_SHOWN} more` : '';
        set('stale', `${reasons.slice(0, REASONS_SHOWN).join('; ')}${more}`);
      } else set('materialized', warning);
    }
  }
  await recordChecks(sql, fingerprintsToRefresh, sourcesToRecord);
  return { span, months, cell, cells: () => [...cells.values()] };
}

/**
 * Why a materialized cell no longer matches what it read: an input that got another data
 * version, or that is stale itself (transitively). Where the version an input had is not known
 * (recorded before data versions, or an input that did not exist then) the times decide: an input
 * materialized after the cell is newer than what the cell read.
 */
function inputReasons<C>(
  graph: AssetGraph<C>,
  mat: Materialized,
  cell: (assetKey: string, partitionKey: string) => CellState,
  latest: Map<string, Materialized>,
): string[] {
  const node = { assetKey: mat.asset_key, partitionKey: mat.partition_key };
  const read = new Map(
    (mat.inputs ?? []).map(([asset, partition, version]) => [nodeId(asset, partition), version]),
  );
  const reasons: string[] = [];
  for (const input of inputsOf(graph, node, { propagatingOnly: true })) {
    const upstream =
      input.partitionKey === null
        ? [...latest.values()]
            .filter((row) => row.asset_key === input.assetKey)
            .map((row) => cell(row.asset_key, row.partition_key))
            .sort((a, b) => a.partitionKey.localeCompare(b.partitionKey))
        : [cell(input.assetKey, input.partitionKey)];
    for (const up of upstream) {
      const id = nodeId(up.assetKey, up.partitionKey);
      if (up.state === 'stale') reasons.push(`upstream ${id} is stale`);
      if (up.materializedAt === null || up.state === 'stale') continue;
      const version = read.get(id);
      if (version !== undefined && version !== null && up.dataVersion !== null) {
        if (version !== up.dataVersion) reasons.push(`upstream ${id} changed`);
      } else if (up.materializedAt > mat.materialized_at) {
        reasons.push(`upstream ${id} was materialized since`);
      }
    }
  }
  return reasons;
}

/**
 * What checking found and need not be found again: a source whose fingerprint changed but whose
 * bytes did not (the next look compares the fingerprint only), and the version of a source loaded
 * before versions were recorded.
 */
/**
 * A landing file rewritten with the same bytes (same SHA-256, new fingerprint): its load stays
 * current, and the new fingerprint is recorded so the file is not hashed again.
 */
export async function refreshFingerprint(
  sql: Pick<Database, 'sql'>['sql'],
  materializationId: string,
  fingerprint: string,
): Promise<void> {
  await sql`update materializations set source = jsonb_set(source, '{fingerprint}', to_jsonb(${fingerprint}::text)) where id = ${materializationId}`;
}

async function recordChecks(
  sql: Pick<Database, 'sql'>['sql'],
  fingerprints: { id: string; fingerprint: string }[],
  sources: { id: string; source: Materialized['source'] }[],
): Promise<void> {
  for (const { id, fingerprint } of fingerprints) await refreshFingerprint(sql, id, fingerprint);
  for (const { id, source } of sources) {
    await sql`
      update materializations set source = ${JSON.stringify(source)}::jsonb,
        data_version = coalesce(data_version, ${source?.sha256 ?? null}::text)
      where id = ${id}`;
  }
}
