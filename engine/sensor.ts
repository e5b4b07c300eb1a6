import { createHash } from 'node:crypto';
import type { SourceObservation } from './asset.ts';
import { assetState, refreshFingerprint } from './asset-state.ts';
import type { Database } from './database.ts';
import { type Executor, launchRun } from './executor.ts';
import type { AssetGraph } from './graph.ts';
import type { Logger } from './logger.ts';
import { nodeId } from './node.ts';
import { type RunStore, shortId } from './run-store.ts';
import { planFromState, RunRefused } from './state-plan.ts';
import type { TickFile, TickOutcome, TickRecord, TickStore } from './ticks.ts';

/**
 * The landing-zone sensor (Dagster's sensors): each tick lists every asset's source, compares
 * each file's fingerprint with the one last loaded, and starts one run of every node the new or
 * changed files make missing or stale — downstream to the end of the graph. Exactly once: the run
 * key hashes the (file, fingerprint) set, ticks take turns under one advisory lock, files an
 * unfinished sensor run covers wait for it, and a file whose sensor run failed is not tried again.
 */

export const SENSOR_ID = 'landing-zone-sensor';

export type SensorDeps<Config> = {
  graph: AssetGraph<Config>;
  database: Pick<Database, 'sql'>;
  config: Config;
  store: RunStore;
  ticks: TickStore;
  executor: Executor;
  logger: Logger;
  /** A local file written less than this long ago may still be being written: it waits. */
  settleSeconds: number;
  /** Groups the sensor never runs (materialized on demand). */
  excludedGroups: ReadonlySet<string>;
  /** The clock (tests). */
  now?: () => Date;
};

/** One landing file the sensor starts a run for, as the run's config records it. */
export type SensedFile = { asset: string; partition: string; name: string; fingerprint: string };

type Loaded = { id: string; source: { name: string; fingerprint: string; sha256: string } | null };

/** Ticks take turns: two workers, or a tick delivered twice, never decide at the same time. */
const LOCK = 'pipeline.landing-zone-sensor';

export async function sensorTick<Config>(
  deps: SensorDeps<Config>,
  tick: { jobId: string; firedAt: Date },
): Promise<TickRecord & { existing: boolean }> {
  const connection = await deps.database.sql.reserve();
  try {
    await connection`select pg_advisory_lock(hashtext(${LOCK}))`;
    try {
      const earlier = await deps.ticks.find(SENSOR_ID, tick.jobId);
      if (earlier) return { ...earlier, existing: true };
      const decided = await decide(deps, tick);
      const recorded = await deps.ticks.record(decided);
      const log = { tickId: tick.jobId, runId: recorded.runId ?? undefined };
      deps.logger[recorded.outcome === 'refused' ? 'warn' : 'info'](log, `sensor: ${recorded.message}`);
      return { ...recorded, existing: false };
    } finally {
      await connection`select pg_advisory_unlock(hashtext(${LOCK}))`;
    }
  } finally {
    connection.release();
  }
}

/** What the tick does: which files changed, and the run it starts for them (or why none). */
async function decide<Config>(
  deps: SensorDeps<Config>,
  tick: { jobId: string; firedAt: Date },
): Promise<TickRecord> {
  const { graph, config } = deps;
  const sql = deps.database.sql;
  const now = deps.now?.() ?? new Date();
  const sourced = graph.keys.filter(
    (key) => graph.get(key).source && !deps.excludedGroups.has(graph.get(key).group),
  );
  const observed = await Promise.all(
    sourced.map(async (key) => [key, await (graph.get(key).source?.observe(config) ?? new Map())] as const),
  );
  const loaded = await latestLoads(sql, sourced);
  const files: TickFile[] = [];
  const candidates: (SensedFile & { loaded: Loaded | undefined; modifiedAt?: Date })[] = [];
  let filesSeen = 0;
  for (const [assetKey, found] of observed) {
    for (const [partitionKey, file] of found as Map<string, SourceObservation>) {
      filesSeen++;
      const load = loaded.get(nodeId(assetKey, partitionKey));
      // Loaded before data versions existed counts as current (its version is taken when needed).
      if (load && (!load.source || load.source.fingerprint === file.fingerprint)) continue;
      candidates.push({
        asset: assetKey,
        partition: partitionKey,
        ...pick(file),
        loaded: load,
        modifiedAt: file.modifiedAt,
      });
    }
  }
  const present = new Map(observed);
  for (const load of loaded.values()) {
    if (load.source && !present.get(load.assetKey)?.has(load.partitionKey))
      files.push({ name: load.source.name, fingerprint: null, change: 'deleted' });
  }

  const settled = candidates.filter((file) => {
    const age = file.modifiedAt
      ? (now.getTime() - file.modifiedAt.getTime()) / 1000
      : Number.POSITIVE_INFINITY;
    if (age >= deps.settleSeconds) return true;
    files.push({ name: file.name, fingerprint: file.fingerprint, change: 'settling' });
    return false;
  });
  // Only a different SHA-256 is a change: a file rewritten with the same bytes stays loaded.
  const differing: typeof settled = [];
  for (const file of settled) {
    const before = file.loaded?.source;
    if (
      before &&
      file.loaded &&
      (await graph.get(file.asset).source?.sha256(config, file.partition)) === before.sha256
    ) {
      await refreshFingerprint(sql, file.loaded.id, file.fingerprint);
    } else differing.push(file);
  }
  const covers = await sensorRunsCovering(sql, differing);
  const changes: SensedFile[] = [];
  for (const file of differing) {
    const cover =
      covers.unfinished.get(file.name) ?? covers.finished.get(`${file.name}\n${file.fingerprint}`);
    if (cover) {
      const change = cover.status === 'failed' || cover.status === 'canceled' ? 'failed' : 'covered';
      files.push({ name: file.name, fingerprint: file.fingerprint, change, runId: cover.id });
    } else {
      changes.push({
        asset: file.asset,
        partition: file.partition,
        name: file.name,
        fingerprint: file.fingerprint,
      });
      files.push({ name: file.name, fingerprint: file.fingerprint, change: file.loaded ? 'changed' : 'new' });
    }
  }
  files.sort((a, b) => a.name.localeCompare(b.name));
  const record = (outcome: TickOutcome, message: string, runId: string | null = null): TickRecord => ({
    schedulerId: SENSOR_ID,
    jobId: tick.jobId,
    firedAt: tick.firedAt,
    outcome,
    message,
    filesSeen,
    files,
    runId,
  });
  if (changes.length === 0) {
    const waiting = files.filter((file) => file.change !== 'deleted');
    return waiting.length > 0
      ? record('waiting', `no run: ${describeWaiting(waiting)}`)
      : record('current', `no new or changed files (${filesSeen} seen)`);
  }

  const selected = graph.keys.filter((key) => !deps.excludedGroups.has(graph.get(key).group));
  const grid = await assetState({ database: deps.database, graph, config });
  const months = changes.map((change) => change.partition).filter((month) => month !== '');
  // A month's change reaches the windows after it; an unpartitioned file's, every month.
  const from = months.length === changes.length ? [...months].sort()[0] : grid.span?.first;
  const to = grid.span?.last;
  const what = `${changes.length} new or changed file${changes.length === 1 ? '' : 's'} (${changes.map((c) => c.name).join(', ')})`;
  try {
    const planned = planFromState(graph, grid, {
      selected,
      ...(from && to ? { range: { from, to } } : {}),
      only: 'stale',
      roots: new Set(changes.map((change) => nodeId(change.asset, change.partition))),
    });
    if (planned.plan.nodes.length === 0) {
      return record(
        'current',
        `${what}: nothing to materialize${planned.notes.length > 0 ? ` (${planned.notes.join('; ')})` : ''}`,
      );
    }
    const { runId, existing } = await launchRun(deps.store, deps.executor, {
      plan: planned.plan,
      trigger: 'sensor',
      selection: `* except group:${[...deps.excludedGroups].join(',')}`,
      config: { tickId: tick.jobId, files: changes },
      runKey: runKeyOf(changes),
      skipCurrent: true,
    });
    const nodes = `${planned.plan.nodes.length} node${planned.plan.nodes.length === 1 ? '' : 's'}`;
    return record(
      'started',
      existing
        ? `${what}: run ${shortId(runId)} covers them already`
        : `${what}: run ${shortId(runId)} started (${nodes})`,
      runId,
    );
  } catch (error) {
    if (!(error instanceof RunRefused)) throw error;
    return record('refused', `${what}: ${error.message}`);
  }
}

/** The run key of a set of changes: the same files with the same fingerprints are one run. */
export function runKeyOf(changes: readonly SensedFile[]): string {
  const set = changes.map((change) => `${change.name}\n${change.fingerprint}`).sort();
  return `sensor:${createHash('sha256').update(set.join('\n')).digest('hex')}`;
}

function pick(file: SourceObservation): { name: string; fingerprint: string } {
  return { name: file.name, fingerprint: file.fingerprint };
}

function describeWaiting(files: readonly TickFile[]): string {
  const by = (change: TickFile['change']) => files.filter((file) => file.change === change);
  const parts: string[] = [];
  const settling = by('settling');
  if (settling.length > 0) parts.push(`${names(settling)} still being written (waiting to settle)`);
  const covered = by('covered');
  if (covered.length > 0) parts.push(`${names(covered)} waiting for ${runsOf(covered)} to end`);
  const failed = by('failed');
  if (failed.length > 0) {
    parts.push(
      `${names(failed)}: ${runsOf(failed)} failed and is not tried again (\`pipeline retry ${failed[0]?.runId ? shortId(failed[0].runId) : 'RUN'}\` resumes it)`,
    );
  }
  return parts.join('; ');
}

function names(files: readonly TickFile[]): string {
  return files.map((file) => file.name).join(', ');
}

function runsOf(files: readonly TickFile[]): string {
  const runs = [...new Set(files.map((file) => file.runId).filter((id): id is string => Boolean(id)))];
  return `run${runs.length === 1 ? '' : 's'} ${runs.map(shortId).join(', ')}`;
}

/** Each source cell's latest materialization and what it loaded. */
async function latestLoads(sql: SensorDeps<unknown>['database']['sql'], keys: readonly string[]) {
  const rows = await sql<
    { id: string; asset_key: string; partition_key: string; source: Loaded['source'] }[]
  >`
    select distinct on (asset_key, partition_key) id, asset_key, partition_key, source from materializations
    where asset_key = any (${keys as string[]}::text[])
    order by asset_key, partition_key, materialized_at desc, id desc`;
  return new Map(
    rows.map((row) => [
      nodeId(row.asset_key, row.partition_key),
      { id: row.id, source: row.source, assetKey: row.asset_key, partitionKey: row.partition_key },
    ]),
  );
}

/**
 * The sensor runs that cover these files: by name, those that have not ended (a file changed
 * again waits for them); by name and fingerprint, those that ended (a failed one is not retried).
 */
async function sensorRunsCovering(
  sql: SensorDeps<unknown>['database']['sql'],
  files: readonly { name: string; fingerprint: string }[],
) {
  const unfinished = new Map<string, { id: string; status: string }>();
  const finished = new Map<string, { id: string; status: string }>();
  if (files.length === 0) return { unfinished, finished };
  const rows = await sql<{ id: string; status: string; name: string; fingerprint: string }[]>`
    select r.id, r.status, f.name, f.fingerprint
    from runs r cross join jsonb_to_recordset(coalesce(r.config->'files', '[]'::jsonb)) as f(name text, fingerprint text)
    where r.trigger = 'sensor' and f.name = any (${files.map((file) => file.name)}::text[])
    order by r.created_at desc`;
  for (const row of rows) {
    if (row.status === 'queued' || row.status === 'running') {
      if (!unfinished.has(row.name)) unfinished.set(row.name, row);
    } else if (!finished.has(`${row.name}\n${row.fingerprint}`))
      finished.set(`${row.name}\n${row.fingerprint}`, row);
  }
  return { unfinished, finished };
}
