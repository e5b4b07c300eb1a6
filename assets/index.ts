import type { AssetDefinition } from '../engine/asset.ts';
import type { PipelineConfig } from './config.ts';

/**
 * The one registry of the pipeline's assets, validated as a graph when the CLI, a worker or the
 * dashboard loads it. The groups (ingest, serving, business, statistics, market) are added here
 * as their issues land.
 */
export const assets: AssetDefinition<PipelineConfig>[] = [];
