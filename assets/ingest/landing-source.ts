import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { AssetSource, SourceObservation } from '../../engine/asset.ts';
import type { PipelineConfig } from '../config.ts';
import { OutsideLandingZone } from '../landing/landing-zone.ts';
import { openLandingZone } from '../landing/open-landing-zone.ts';

/** A monthly landing file, `<folder>/YYYY-MM.csv`. */
const MONTH_FILE = /^[^/]+\/(\d{4}-\d{2})\.csv$/;

/**
 * The landing files of a monthly partitioned ingest asset (`customers/`, `traffic/`): one listing
 * of the folder (or of the prefix, in a bucket) tells which months have a file and their
 * fingerprints; a file is read (hashed) only when its fingerprint changed since it was loaded.
 */
export function monthlyLandingSource(folder: string): AssetSource<PipelineConfig> {
  return {
    observe: async (config) => {
      const found = new Map<string, SourceObservation>();
      for (const file of await openLandingZone(config).list(folder)) {
        const month = MONTH_FILE.exec(file.name)?.[1];
        if (month) found.set(month, file);
      }
      return found;
    },
    sha256: (config, partitionKey) => sha256Of(config, `${folder}/${partitionKey}.csv`),
  };
}

/** The one landing file of an unpartitioned ingest asset (`channels.csv`). */
export function landingFileSource(file: string): AssetSource<PipelineConfig> {
  return {
    observe: async (config) => {
      const observed = await openLandingZone(config).stat(file);
      return new Map(observed ? [['', observed]] : []);
    },
    sha256: (config) => sha256Of(config, file),
  };
}

/** The SHA-256 of a landing file; of a fixed text for a link outside the zone, which is not read. */
async function sha256Of(config: PipelineConfig, name: string): Promise<string> {
  const hash = createHash('sha256');
  try {
    await pipeline((await openLandingZone(config).open(name)).stream, hash);
  } catch (error) {
    if (!(error instanceof OutsideLandingZone)) throw error;
    hash.update('a link outside the landing zone');
  }
  return hash.digest('hex');
}
