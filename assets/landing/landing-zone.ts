import type { Readable } from 'node:stream';
import { InputError } from '../../engine/errors.ts';

/**
 * A landing zone — `channels.csv`, `customers/YYYY-MM.csv`, `traffic/YYYY-MM.csv` — wherever it is
 * kept (a folder, a bucket): the loaders, the data versions and the asset state only see this, so
 * they do not care which. Files are named relative to the zone (`traffic/2026-10.csv`).
 */
export interface LandingZone {
  /** Where a file is, as people name it: a path, or `s3://bucket/prefix/traffic/2026-10.csv`. */
  locate(name: string): string;
  /** The files directly in `folder` (`traffic`), sorted by name; none when the folder is absent. */
  list(folder: string): Promise<LandingFileInfo[]>;
  /** One file, looked at without reading it; undefined when there is none. */
  stat(name: string): Promise<LandingFileInfo | undefined>;
  /**
   * Opens one file from its first byte. A missing file is a LandingFileMissing, a link out of a
   * local zone an OutsideLandingZone (both InputErrors, never retried); the stream fails with a
   * retryable error when the connection breaks before the last byte.
   */
  open(name: string): Promise<LandingRead>;
}

/** What a listing or a look tells of a file: a fingerprint that changes whenever its bytes may have. */
export type LandingFileInfo = {
  name: string;
  fingerprint: string;
  /** A local file's modification time (a writer may still be appending); objects appear whole. */
  modifiedAt?: Date;
};

/** A file being read: its size and fingerprint when opened, and its bytes. */
export type LandingRead = { size: number; fingerprint: string; stream: Readable };

export class LandingFileMissing extends InputError {
  constructor(name: string, location: string) {
    super(`${name}: file not found (expected at ${location})`);
  }
}

/** A landing file that resolves to somewhere outside a local landing zone: never read. */
export class OutsideLandingZone extends InputError {
  constructor(name: string) {
    super(`${name} is a link outside the landing zone`);
  }
}
