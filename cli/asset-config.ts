import type { PipelineConfig } from '../assets/config.ts';
import type { Config } from './config.ts';

/** What the assets receive as ctx.config, from the environment and the run's own options. */
export function assetConfig(config: Config, run: { allowBadRows?: unknown } = {}): PipelineConfig {
  return {
    landingDir: config.landingDir,
    s3: config.s3,
    exportDir: config.exportDir,
    allowBadRows: Number(run.allowBadRows ?? 0),
    maxRecordBytes: config.maxRecordBytes,
    market: { ...config.alphaVantage, ...(config.azure ? { azure: config.azure } : {}) },
  };
}

/**
 * The values of the config that no run may store or show: the node runner replaces them with ****
 * in everything an attempt records (the engine knows them only as strings).
 */
export function assetSecrets(config: Config): string[] {
  const accountKey = /(?:^|;)\s*AccountKey=([^;]+)/i.exec(config.azure?.connectionString ?? '')?.[1];
  return [config.alphaVantage.apiKey, accountKey].filter((secret): secret is string => Boolean(secret));
}
