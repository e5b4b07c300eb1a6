import type { Logger } from 'pino';
import type { Sql, TransactionSql } from 'postgres';
import type { Db } from './database.ts';

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

/** A dependency: the upstream key, optionally with a partition mapping. */
export type AssetDependency = string | { asset: string; window?: number };

export type NormalizedDependency = { key: string; mapping: PartitionMapping };

export type RetryPolicy = {
  /** Total tries including the first (1 = no retry). */
  attempts: number;
  /** First delay; doubles with each retry (exponential backoff). */
  backoffMs: number;
};

export type MetadataValue = number | string | boolean | null;

/** What a materialization reports; stored with it and shown by `pipeline run ID`. */
export type AssetMetadata = { rowCount: number } & Record<string, MetadataValue>;

export type AssetContext<Config = unknown> = {
  runId: string;
  assetKey: string;
  /** The partition key (YYYY-MM) of a partitioned asset. */
  partition?: string;
  /** The partition's first day, the value of `period` columns (YYYY-MM-01). */
  period?: string;
  /** The partition's last day (YYYY-MM-DD). */
  asOf?: string;
  /** Drizzle, inside the asset's transaction. */
  db: Db;
  /** The same transaction through postgres.js, for what Drizzle cannot say (COPY, set-based SQL). */
  sql: TransactionSql;
  log: Logger;
  signal: AbortSignal;
  config: Config;
};

export type CheckOutcome = { passed: boolean; message?: string; metadata?: Record<string, MetadataValue> };

/**
 * Runs after the asset's writes, in its transaction, before the commit (write–audit–publish):
 * a failed `error` check rolls the write back and fails the asset; a failed `warn` is recorded.
 */
export type AssetCheck<Config = unknown> = {
  name: string;
  severity: 'error' | 'warn';
  description?: string;
  run: (ctx: AssetContext<Config> & { metadata: AssetMetadata }) => Promise<CheckOutcome>;
};

export type AssetSpec<Config = unknown> = {
  key: string;
  group: string;
  description: string;
  deps?: AssetDependency[];
  partitions?: PartitionsDefinition;
  checks?: AssetCheck<Config>[];
  retry?: Partial<RetryPolicy>;
  materialize: (ctx: AssetContext<Config>) => Promise<AssetMetadata>;
  /** A picture of the asset's current data (SVG markup) for its page in the dashboard. */
  preview?: (sql: Sql) => Promise<string>;
};

export type AssetDefinition<Config = unknown> = Readonly<{
  key: string;
  group: string;
  description: string;
  deps: readonly NormalizedDependency[];
  partitions: PartitionsDefinition | undefined;
  checks: readonly AssetCheck<Config>[];
  retry: RetryPolicy;
  materialize: (ctx: AssetContext<Config>) => Promise<AssetMetadata>;
  preview: ((sql: Sql) => Promise<string>) | undefined;
}>;

export const DEFAULT_RETRY: RetryPolicy = { attempts: 3, backoffMs: 1_000 };

export function defineAsset<Config = unknown>(spec: AssetSpec<Config>): AssetDefinition<Config> {
  return Object.freeze({
    key: spec.key,
    group: spec.group,
    description: spec.description,
    deps: (spec.deps ?? []).map(normalizeDependency),
    partitions: spec.partitions,
    checks: spec.checks ?? [],
    retry: { ...DEFAULT_RETRY, ...spec.retry },
    materialize: spec.materialize,
    preview: spec.preview,
  });
}

function normalizeDependency(dep: AssetDependency): NormalizedDependency {
  if (typeof dep === 'string') return { key: dep, mapping: { kind: 'identity' } };
  return {
    key: dep.asset,
    mapping: dep.window === undefined ? { kind: 'identity' } : { kind: 'window', months: dep.window },
  };
}
