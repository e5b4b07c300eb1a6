import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { PipelineConfig } from '../assets/config.ts';
import type { AssetDefinition } from '../engine/asset.ts';
import { ConfigError } from '../engine/errors.ts';
import { AssetGraph } from '../engine/graph.ts';

/**
 * The asset graph the CLI works on: the pipeline's registry, or the module named by
 * PIPELINE_ASSETS (it must export `assets`), which lets tests and experiments bring their own.
 */
export async function loadAssetGraph(): Promise<AssetGraph<PipelineConfig>> {
  const override = process.env.PIPELINE_ASSETS;
  // Imported when needed: commands that do not touch assets (generate, migrate) skip its weight.
  if (!override) return new AssetGraph((await import('../assets/index.ts')).assets);
  let module: { assets?: AssetDefinition<PipelineConfig>[] };
  try {
    module = await import(pathToFileURL(resolve(override)).href);
  } catch (error) {
    // A .ts module outside a "type": "module" package is loaded as CommonJS: name .mts instead.
    throw new ConfigError(`PIPELINE_ASSETS ${override} cannot be loaded: ${firstLine(error)}`, {
      cause: error,
    });
  }
  if (!Array.isArray(module.assets))
    throw new ConfigError(`PIPELINE_ASSETS ${override} does not export \`assets\``);
  return new AssetGraph(module.assets);
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}
