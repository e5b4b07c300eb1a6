import type { AssetDefinition } from '../engine/asset.ts';
import type { PipelineConfig } from './config.ts';
import { channels, customerSnapshots, customers, traffic } from './ingest/index.ts';

/**
 * The one registry of the pipeline's assets, validated as a graph when the CLI, a worker or the
 * dashboard loads it. Groups still to come: serving, business, statistics, market.
 */
export const assets: AssetDefinition<PipelineConfig>[] = [channels, customerSnapshots, customers, traffic];
