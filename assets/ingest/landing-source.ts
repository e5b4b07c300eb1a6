import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { AssetSource, SourceObservation } from '../../engine/asset.ts';
import type { PipelineConfig } from '../config.ts';
import { fileFingerprint } from './csv-file.ts';
import { type LandingEntry, landingZone } from './landing-path.ts';

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
      const look = landingZone(config.landingDir);
      const found = new Map<string, SourceObservation>();
      for (const name of names.sort()) {
        const month = MONTH_FILE.exec(name)?.[1];
        const relative = `${folder}/${name}`;
        const observed = month ? observation(relative, await look(relative)) : undefined;
        if (month && observed) found.set(month, observed);
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
      const observed = observation(file, await landingZone(config.landingDir)(file));
      return new Map(observed ? [['', observed]] : []);
    },
    sha256: (config) => sha256Of(config, file),
  };
}

/**
 * A link outside the landing zone is observed by the link's own stat, so it shows (and its load
 * fails, saying why) without anything reading its target.
 */
function observation(name: string, entry: LandingEntry): SourceObservation | undefined {
  if (entry.kind === 'missing') return undefined;
  const fingerprint = fileFingerprint(entry.info);
  return { name, fingerprint: entry.kind === 'outside' ? `outside:${fingerprint}` : fingerprint };
}

/** The SHA-256 of a landing file; of a fixed text for a link outside the zone, which is not read. */
async function sha256Of(config: PipelineConfig, relative: string): Promise<string> {
  const entry = await landingZone(config.landingDir)(relative);
  if (entry.kind === 'missing') throw new Error(`${relative}: file not found`);
  const hash = createHash('sha256');
  if (entry.kind === 'file') await pipeline(createReadStream(entry.path, { highWaterMark: 1 << 20 }), hash);
  else hash.update('a link outside the landing zone');
  return hash.digest('hex');
}
