import type { PipelineConfig } from '../assets/config.ts';
import type { Config } from './config.ts';

/** What the assets receive as ctx.config, from the environment and the run's own options. */
export function assetConfig(config: Config, run: { allowBadRows?: unknown } = {}): PipelineConfig {
  return {
    landingDir: config.landingDir,
    exportDir: config.exportDir,
    allowBadRows: Number(run.allowBadRows ?? 0),
    market: { ...config.alphaVantage, ...(config.azure ? { azure: config.azure } : {}) },
  };
}
