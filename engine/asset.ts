import type { Logger } from 'pino';
import type { Sql, TransactionSql } from 'postgres';
import type { AnyDb } from './database.ts';
import { firstDay, lastDay, monthKey, monthRange, parseMonth } from './months.ts';

/**
 * Software-defined assets (Dagster's anchor): one object literal declares what an asset is, what
 * it depends on, how it is partitioned, how it is checked and how it is materialized.
 */

export type PartitionsDefinition = 'monthly';

/**
 * How a partitioned asset's partition maps onto a partitioned dependency's partitions:
 * identity (P → P) by default, or a trailing window of months (P → P-n+1 … P).
 */
export type PartitionMapping = { kind: 'identity' } | { kind: 'window'; months: number };

/**
 * A dependency: the upstream key, optionally with a partition mapping. `validationOnly`: the
 * asset reads it only to check keys (traffic → customers), so its data version does not make this
 * asset stale — a new month's snapshot must not make every past traffic month stale.
 */
export type AssetDependency = string | { asset: string; window?: number; validationOnly?: boolean };

export type NormalizedDependency = { key: string; mapping: PartitionMapping; propagates: boolean };

/** What an external source (a landing file) holds now, cheaply: found by listing, not reading. */
export type SourceObservation = {
  /** How people name it (a path or URL relative to where sources live, e.g. traffic/2026-10.csv). */
  name: string;
  /** Changes whenever its bytes may have: size and modification time, an ETag. */
  fingerprint: string;
  /** When it was last written, where that is known and a writer may still be at it (a local file). */
  modifiedAt?: Date;
};

/** What an asset read from its source, reported while materializing: its data version. */
export type SourceRead = SourceObservation & { sha256: string };

/**
 * An asset that reads an external source (a landing file per partition): how the engine tells,
 * without materializing, which partitions have a source, and whether one changed since it was read.
 */
export type AssetSource<Config = unknown> = {
  /** Every partition's source as it is now ('' for an unpartitioned asset): one listing. */
  observe: (config: Config) => Promise<Map<string, SourceObservation>>;
  /** The SHA-256 of a partition's source now (asked only when its fingerprint changed). */
  sha256: (config: Config, partitionKey: string) => Promise<string>;
};

export type RetryPolicy = {
  /** Total tries including the first (1 = no retry). */
  attempts: number;
  /** First delay; doubles with each retry (exponential backoff). */
  backoffMs: number;
};

export type MetadataValue = number | string | boolean | null;

/** What a materialization reports; stored with it and shown by `pipeline run ID`. */
export type AssetMetadata = { rowCount: number } & Record<string, MetadataValue>;

/** The months of a dependency that one partition reads. */
export type MonthWindow = {
  /** The month keys (YYYY-MM), oldest first. */
  months: readonly string[];
  /** The first day of the oldest month (YYYY-MM-DD). */
  first: string;
  /** The last day of the newest month, the partition's own (YYYY-MM-DD). */
  last: string;
};

type BaseContext<Config> = {
  runId: string;
  assetKey: string;
  /** Drizzle inside the asset's transaction (bring your own tables); built on first use. */
  readonly db: AnyDb;
  /** The same transaction through postgres.js, for what Drizzle cannot say (COPY, set-based SQL). */
  sql: TransactionSql;
  log: Logger;
  signal: AbortSignal;
  config: Config;
  /** An asset with a `source` reports what it read (its SHA-256 computed in the stream that read it). */
  recordSource: (read: SourceRead) => void;
};

/** What an unpartitioned asset's code sees. */
export type UnpartitionedContext<Config = unknown> = BaseContext<Config> & {
  partition?: undefined;
  period?: undefined;
  asOf?: undefined;
};

/** What a monthly partitioned asset's code sees: its partition, always there. */
export type PartitionedContext<Config = unknown> = BaseContext<Config> & {
  /** The partition key, YYYY-MM. */
  partition: string;
  /** The partition's first day, the value of `period` columns (YYYY-MM-01). */
  period: string;
  /** The partition's last day (YYYY-MM-DD). */
  asOf: string;
  /**
   * The months of a partitioned dependency this partition reads, as its `deps` entry says: the
   * trailing window of a `{ asset, window: n }` dependency, or the partition's own month.
   */
  window: (dependency: string) => MonthWindow;
};

export type AssetContext<Config = unknown> = UnpartitionedContext<Config> | PartitionedContext<Config>;

export type CheckOutcome = { passed: boolean; message?: string; metadata?: Record<string, MetadataValue> };

/**
 * Runs after the asset's writes, in its transaction, before the commit (write–audit–publish):
 * a failed `error` check rolls the write back and fails the asset; a failed `warn` is recorded.
 */
export type AssetCheck<Config = unknown, Context = AssetContext<Config>> = {
  name: string;
  severity: 'error' | 'warn';
  description?: string;
  run: (ctx: Context & { metadata: AssetMetadata }) => Promise<CheckOutcome>;
};

/** A check of a monthly partitioned asset: it sees the partition. */
export type PartitionedCheck<Config = unknown> = AssetCheck<Config, PartitionedContext<Config>>;

type CommonSpec<Config> = {
  key: string;
  group: string;
  description: string;
  /**
   * The code version: changing it makes the asset's materializations, and everything downstream
   * of them, stale. Default '1'.
   */
  version?: string;
  deps?: AssetDependency[];
  /** The external source the asset loads, if it loads one (its data version is the source's SHA-256). */
  source?: AssetSource<Config>;
  retry?: Partial<RetryPolicy>;
  /** A picture of the asset's current data (SVG markup) for its page in the dashboard. */
  preview?: (sql: Sql) => Promise<string>;
};

export type PartitionedAssetSpec<Config = unknown> = CommonSpec<Config> & {
  partitions: PartitionsDefinition;
  checks?: AssetCheck<Config, PartitionedContext<Config>>[];
  materialize: (ctx: PartitionedContext<Config>) => Promise<AssetMetadata>;
};

export type UnpartitionedAssetSpec<Config = unknown> = CommonSpec<Config> & {
  partitions?: undefined;
  checks?: AssetCheck<Config, UnpartitionedContext<Config>>[];
  materialize: (ctx: UnpartitionedContext<Config>) => Promise<AssetMetadata>;
};

/** Either kind: for code that defines both kinds alike (its `materialize` takes an AssetContext). */
export type AssetSpec<Config = unknown> = PartitionedAssetSpec<Config> | UnpartitionedAssetSpec<Config>;

export type AssetDefinition<Config = unknown> = Readonly<{
  key: string;
  group: string;
  description: string;
  version: string;
  deps: readonly NormalizedDependency[];
  source: AssetSource<Config> | undefined;
  partitions: PartitionsDefinition | undefined;
  /** The engine hands each its own kind of context (partitioned or not), as the spec declared. */
  checks: readonly AssetCheck<Config>[];
  retry: RetryPolicy;
  materialize: (ctx: AssetContext<Config>) => Promise<AssetMetadata>;
  preview: ((sql: Sql) => Promise<string>) | undefined;
}>;

export const DEFAULT_RETRY: RetryPolicy = { attempts: 3, backoffMs: 1_000 };

export function defineAsset<Config = unknown>(spec: PartitionedAssetSpec<Config>): AssetDefinition<Config>;
export function defineAsset<Config = unknown>(spec: UnpartitionedAssetSpec<Config>): AssetDefinition<Config>;
export function defineAsset<Config = unknown>(spec: AssetSpec<Config>): AssetDefinition<Config>;
export function defineAsset<Config = unknown>(spec: AssetSpec<Config>): AssetDefinition<Config> {
  return Object.freeze({
    key: spec.key,
    group: spec.group,
    description: spec.description,
    version: spec.version ?? '1',
    deps: (spec.deps ?? []).map(normalizeDependency),
    source: spec.source,
    partitions: spec.partitions,
    // The materializer builds the context the spec's kind promises (see materialize-node.ts).
    checks: (spec.checks ?? []) as readonly AssetCheck<Config>[],
    retry: { ...DEFAULT_RETRY, ...spec.retry },
    materialize: spec.materialize as (ctx: AssetContext<Config>) => Promise<AssetMetadata>,
    preview: spec.preview,
  });
}

function normalizeDependency(dep: AssetDependency): NormalizedDependency {
  if (typeof dep === 'string') return { key: dep, mapping: { kind: 'identity' }, propagates: true };
  return {
    key: dep.asset,
    mapping: dep.window === undefined ? { kind: 'identity' } : { kind: 'window', months: dep.window },
    propagates: !dep.validationOnly,
  };
}

/** The months of `dependency` that partition `partitionKey` of an asset reads, as its `deps` entry says. */
export function dependencyWindow(
  definition: Pick<AssetDefinition<never>, 'key' | 'deps'>,
  partitionKey: string,
  dependency: string,
): MonthWindow {
  const dep = definition.deps.find((d) => d.key === dependency);
  if (!dep) throw new Error(`${definition.key} has no dependency '${dependency}'`);
  const month = parseMonth(partitionKey);
  const size = dep.mapping.kind === 'window' ? dep.mapping.months : 1;
  return {
    months: monthRange(month - size + 1, month).map(monthKey),
    first: firstDay(month - size + 1),
    last: lastDay(month),
  };
}
