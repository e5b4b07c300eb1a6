import type { S3Options } from './landing/s3-client.ts';

/** The longest CSV record a landing file may have by default (PIPELINE_MAX_RECORD_BYTES): 1 MiB. */
export const DEFAULT_MAX_RECORD_BYTES = 1_048_576;

/** What every asset of this pipeline receives as `ctx.config`, built by the CLI or worker from the environment and flags. */
export type PipelineConfig = Readonly<{
  /** A folder, or `s3://BUCKET/PREFIX` (assets/landing/open-landing-zone.ts). */
  landingDir: string;
  /** How to reach the bucket of an `s3://` landingDir; the SDK's defaults when absent. */
  s3?: S3Options;
  exportDir: string;
  /** Bad input rows to quarantine in rejected_rows instead of failing the load (docs/contract.md §9). */
  allowBadRows: number;
  /**
   * A landing file with a longer CSV record is rejected while it streams, before the record could
   * reach PostgreSQL whole (default DEFAULT_MAX_RECORD_BYTES).
   */
  maxRecordBytes?: number;
  /**
   * The market group's sources and export target (docs/contract.md §8); absent where nothing
   * configured them.
   */
  market?: MarketConfig;
}>;

export type MarketConfig = Readonly<{
  /** Never logged or shown: see assets/market/alpha-vantage.ts. */
  apiKey: string | undefined;
  url: string;
  symbols: readonly string[];
  /** YYYY-MM-DD: prices before it are not kept. */
  start: string;
  /**
   * Tuning of the Alpha Vantage client (per-request timeout, tries and first wait after a
   * rate-limit answer); the client's defaults when absent. Not read from the environment: tests
   * set small values so the rate-limit and timeout paths run in milliseconds.
   */
  timeoutMs?: number;
  rateLimitTries?: number;
  rateLimitBackoffMs?: number;
  /** Exports go to this Blob Storage container instead of exportDir. */
  azure?: { connectionString: string; container: string };
}>;
