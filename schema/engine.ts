import { sql } from 'drizzle-orm';
import {
  bigserial,
  boolean,
  check,
  foreignKey,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uuid,
} from 'drizzle-orm/pg-core';

/**
 * The engine's own storage: runs, their (asset, partition) nodes, each attempt at a node,
 * materialization events and check results. An unpartitioned node has partition_key '' so it can
 * sit in a primary key. Nothing here names an asset or a table of the app.
 */

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();
const startedAt = () => timestamp('started_at', { withTimezone: true });
const finishedAt = () => timestamp('finished_at', { withTimezone: true });

export const runs = pgTable(
  'runs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** Who started the run (the app's words: cli, schedule, dashboard …). */
    trigger: text('trigger').notNull(),
    selection: text('selection').notNull(),
    partitionFrom: text('partition_from'),
    partitionTo: text('partition_to'),
    status: text('status').notNull().default('queued'),
    executor: text('executor').notNull(),
    config: jsonb('config').notNull().default({}),
    error: text('error'),
    /**
     * Makes starting a run idempotent: a second run with the same key is not created, the first
     * is returned (a scheduler tick delivered twice starts one run).
     */
    runKey: text('run_key').unique('uk_runs_run_key'),
    /**
     * An executor that holds the run in its own process (in-process) extends this while it lives;
     * once it has passed, the run's executor is lost and the next process that looks fails it.
     * Null for runs on shared workers, whose jobs BullMQ's stall detection hands on instead.
     */
    leaseUntil: timestamp('lease_until', { withTimezone: true }),
    /**
     * Started to bring nodes up to date (`--missing`, `--stale`, the schedule, the sensor): a node
     * that another run made current meanwhile is skipped when its turn comes, not recomputed.
     */
    skipCurrent: boolean('skip_current').notNull().default(false),
    createdAt: createdAt(),
    startedAt: startedAt(),
    finishedAt: finishedAt(),
  },
  (t) => [
    check('ck_runs_status', sql`${t.status} in ('queued', 'running', 'succeeded', 'failed', 'canceled')`),
    index('idx_runs_created_at').on(t.createdAt.desc()),
    // Finding runs whose executor went silent looks at the few runs an executor holds.
    index('idx_runs_lease').on(t.leaseUntil).where(sql`${t.leaseUntil} is not null`),
    // The sensor asks which of its runs covered which files: a few runs a month, found here.
    index('idx_runs_sensor').on(t.createdAt.desc()).where(sql`${t.trigger} = 'sensor'`),
  ],
);

export const runNodes = pgTable(
  'run_nodes',
  {
    runId: uuid('run_id').notNull(),
    assetKey: text('asset_key').notNull(),
    partitionKey: text('partition_key').notNull().default(''),
    // The node's place in the plan's dependency order: for listing, and how nodes name each other.
    position: integer('position').notNull().default(0),
    status: text('status').notNull().default('pending'),
    // The ids of the nodes of this run this node waits for (for display; readiness uses `waiting`).
    upstream: text('upstream').array().notNull().default(sql`'{}'::text[]`),
    // Positions of the nodes of this run that wait for this one.
    downstream: integer('downstream').array().notNull().default(sql`'{}'::int[]`),
    // How many of its upstream nodes have not succeeded yet: ready at 0.
    waiting: integer('waiting').notNull().default(0),
    attempts: integer('attempts').notNull().default(0),
    startedAt: startedAt(),
    finishedAt: finishedAt(),
    durationMs: integer('duration_ms'),
    metadata: jsonb('metadata'),
    error: text('error'),
    errorCause: text('error_cause'),
    /** Who ran its latest attempt: `in-process` or the worker's name (host:pid), for the timeline. */
    worker: text('worker'),
  },
  (t) => [
    primaryKey({ name: 'pk_run_nodes', columns: [t.runId, t.assetKey, t.partitionKey] }),
    unique('uk_run_nodes_position').on(t.runId, t.position),
    foreignKey({ name: 'fk_run_nodes_run', columns: [t.runId], foreignColumns: [runs.id] }).onDelete(
      'cascade',
    ),
    check(
      'ck_run_nodes_status',
      sql`${t.status} in ('pending', 'queued', 'running', 'succeeded', 'skipped', 'failed', 'canceled')`,
    ),
    // The dashboard's graph: each asset's latest started node (`order by started_at desc limit
    // 1`, read backwards) is one index probe per asset instead of a scan of the whole history per
    // asset (46 ms → 1.5 ms with 1 000 runs, bench:dashboard).
    index('idx_run_nodes_asset_started').on(t.assetKey, t.startedAt).where(sql`${t.startedAt} is not null`),
    // Asset state: each (asset, partition)'s latest attempt that is running or failed (few rows).
    index('idx_run_nodes_partition_unsettled')
      .on(t.assetKey, t.partitionKey, t.startedAt.desc())
      .where(sql`${t.status} in ('running', 'failed')`),
    // Settling a run asks whether any node is unfinished, active or failed: a probe of this small
    // index instead of a count over the run's nodes at every completion.
    // (`skipped`: found current when its turn came, which counts as done.)
    index('idx_run_nodes_unfinished')
      .on(t.runId, t.status)
      .where(sql`${t.status} not in ('succeeded', 'skipped')`),
  ],
);

/**
 * Every finished attempt at a node, so an attempt's error stays in the run's history after a
 * retry (the one running now is the node's own row).
 */
export const nodeAttempts = pgTable(
  'node_attempts',
  {
    runId: uuid('run_id').notNull(),
    assetKey: text('asset_key').notNull(),
    partitionKey: text('partition_key').notNull().default(''),
    attempt: integer('attempt').notNull(),
    status: text('status').notNull(),
    startedAt: timestamp('started_at', { withTimezone: true }).notNull(),
    finishedAt: finishedAt(),
    durationMs: integer('duration_ms'),
    error: text('error'),
    errorCause: text('error_cause'),
    worker: text('worker'),
  },
  (t) => [
    primaryKey({ name: 'pk_node_attempts', columns: [t.runId, t.assetKey, t.partitionKey, t.attempt] }),
    foreignKey({ name: 'fk_node_attempts_run', columns: [t.runId], foreignColumns: [runs.id] }).onDelete(
      'cascade',
    ),
    check('ck_node_attempts_status', sql`${t.status} in ('succeeded', 'skipped', 'failed', 'canceled')`),
  ],
);

export const materializations = pgTable(
  'materializations',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    runId: uuid('run_id').notNull(),
    assetKey: text('asset_key').notNull(),
    partitionKey: text('partition_key').notNull().default(''),
    materializedAt: timestamp('materialized_at', { withTimezone: true }).notNull().defaultNow(),
    durationMs: integer('duration_ms').notNull(),
    metadata: jsonb('metadata').notNull(),
    /**
     * The data it produced, as a version: a source's SHA-256, or a hash of the asset's code
     * version and the data versions it read. Null for materializations recorded before data
     * versions existed (they count as current).
     */
    dataVersion: text('data_version'),
    codeVersion: text('code_version'),
    /** The upstream partitions it read and their data versions: [[asset, partition, version], …]. */
    inputs: jsonb('inputs'),
    /** The source it loaded: { name, fingerprint, sha256 }. */
    source: jsonb('source'),
  },
  (t) => [
    foreignKey({ name: 'fk_materializations_run', columns: [t.runId], foreignColumns: [runs.id] }).onDelete(
      'cascade',
    ),
    // Each (asset, partition)'s latest materialization, found in the index alone (id included).
    index('idx_materializations_asset').on(t.assetKey, t.partitionKey, t.materializedAt.desc(), t.id.desc()),
    index('idx_materializations_run').on(t.runId),
  ],
);

export const checkResults = pgTable(
  'check_results',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    runId: uuid('run_id').notNull(),
    assetKey: text('asset_key').notNull(),
    partitionKey: text('partition_key').notNull().default(''),
    checkName: text('check_name').notNull(),
    severity: text('severity').notNull(),
    passed: boolean('passed').notNull(),
    message: text('message'),
    metadata: jsonb('metadata'),
    createdAt: createdAt(),
  },
  (t) => [
    foreignKey({ name: 'fk_check_results_run', columns: [t.runId], foreignColumns: [runs.id] }).onDelete(
      'cascade',
    ),
    check('ck_check_results_severity', sql`${t.severity} in ('error', 'warn')`),
    index('idx_check_results_run').on(t.runId),
    index('idx_check_results_asset').on(t.assetKey, t.partitionKey, t.createdAt.desc()),
  ],
);

/**
 * The job schedulers the pipeline keeps (the monthly run, the landing-zone sensor): how each one
 * fires and whether it is paused. BullMQ holds the scheduler itself; a paused one is removed
 * there and kept here, so resuming (from any process) and `pipeline schedule` know what it was.
 */
export const schedulers = pgTable('schedulers', {
  id: text('id').primaryKey(),
  /** `{ pattern, tz }` or `{ every }` (milliseconds), as BullMQ's upsertJobScheduler takes it. */
  repeat: jsonb('repeat').notNull(),
  paused: boolean('paused').notNull().default(false),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

/**
 * Every tick of a scheduler and what it did: the files it saw and the changes it found (the
 * sensor), and the run it started or why none.
 */
export const ticks = pgTable(
  'ticks',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    schedulerId: text('scheduler_id').notNull(),
    /** The BullMQ job of the tick (a tick delivered twice is recorded once). */
    jobId: text('job_id').notNull(),
    firedAt: timestamp('fired_at', { withTimezone: true }).notNull(),
    tickedAt: timestamp('ticked_at', { withTimezone: true }).notNull().defaultNow(),
    /** started, current (nothing to do), waiting (files settling or covered by a run), refused, paused. */
    outcome: text('outcome').notNull(),
    message: text('message').notNull(),
    filesSeen: integer('files_seen'),
    /** [{ name, fingerprint, change: new | changed | deleted | settling | covered | failed }]. */
    files: jsonb('files').notNull().default([]),
    runId: uuid('run_id'),
  },
  (t) => [
    unique('uk_ticks_job').on(t.schedulerId, t.jobId),
    foreignKey({ name: 'fk_ticks_run', columns: [t.runId], foreignColumns: [runs.id] }).onDelete('set null'),
    check('ck_ticks_outcome', sql`${t.outcome} in ('started', 'current', 'waiting', 'refused', 'paused')`),
    index('idx_ticks_ticked_at').on(t.tickedAt.desc()),
  ],
);

/**
 * Each node's step log: the lines its attempts logged (level, time, message, structured fields),
 * kept with the run and written outside the asset's transaction, so a failed attempt keeps them.
 * Bounded per attempt; the last kept line says how many were dropped.
 */
export const nodeLogs = pgTable(
  'node_logs',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    runId: uuid('run_id').notNull(),
    assetKey: text('asset_key').notNull(),
    partitionKey: text('partition_key').notNull().default(''),
    attempt: integer('attempt').notNull(),
    /** The line's place in its attempt's log. */
    seq: integer('seq').notNull(),
    loggedAt: timestamp('logged_at', { withTimezone: true }).notNull(),
    /** trace, debug, info, warn, error, fatal. */
    level: text('level').notNull(),
    message: text('message').notNull(),
    fields: jsonb('fields'),
  },
  (t) => [
    foreignKey({ name: 'fk_node_logs_run', columns: [t.runId], foreignColumns: [runs.id] }).onDelete(
      'cascade',
    ),
    check('ck_node_logs_level', sql`${t.level} in ('trace', 'debug', 'info', 'warn', 'error', 'fatal')`),
    unique('uk_node_logs_line').on(t.runId, t.assetKey, t.partitionKey, t.attempt, t.seq),
  ],
);

/** The engine's tables, for a Drizzle handle that sees nothing of the app's. */
export const engineSchema = {
  runs,
  runNodes,
  nodeAttempts,
  materializations,
  checkResults,
  schedulers,
  ticks,
  nodeLogs,
};
