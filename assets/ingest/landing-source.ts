import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { AssetSource, SourceObservation } from '../../engine/asset.ts';
import type { PipelineConfig } from '../config.ts';
import { fileFingerprint } from './csv-file.ts';

/** A monthly landing file, `<folder>/YYYY-MM.csv`. */
const MONTH_FILE = /^(\d{4}-\d{2})\.csv$/;

/**
 * The landing files of a monthly partitioned ingest asset (`customers/`, `traffic/`): one listing
 * of the folder tells which months have a file and their fingerprints; a file is read (hashed)
 * only when its fingerprint changed since it was loaded.
 */
export function monthlyLandingSource(folder: string): AssetSource<PipelineConfig> {
  return {
    observe: async (config) => {
      const names = await readdir(join(config.landingDir, folder)).catch(() => [] as string[]);
      const found = new Map<string, SourceObservation>();
      for (const name of names.sort()) {
        const month = MONTH_FILE.exec(name)?.[1];
        const observed = month ? await observe(config, `${folder}/${name}`) : undefined;
        if (month && observed) found.set(month, observed);
      }
      return found;
    },
    sha256: (config, partitionKey) => sha256Of(join(config.landingDir, folder, `${partitionKey}.csv`)),
  };
}

/** The one landing file of an unpartitioned ingest asset (`channels.csv`). */
export function landingFileSource(file: string): AssetSource<PipelineConfig> {
  return {
    observe: async (config) => {
      const observed = await observe(config, file);
      return new Map(observed ? [['', observed]] : []);
    },
    sha256: (config) => sha256Of(join(config.landingDir, file)),
  };
}

async function observe(config: PipelineConfig, name: string): Promise<SourceObservation | undefined> {
  const info = await stat(join(config.landingDir, name)).catch(() => undefined);
  return info?.isFile() ? { name, fingerprint: fileFingerprint(info) } : undefined;
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), hash);
  return hash.digest('hex');
}
