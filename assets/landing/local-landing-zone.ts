import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type LandingEntry, landingZone } from './landing-path.ts';
import {
  type LandingFileInfo,
  LandingFileMissing,
  type LandingZone,
  OutsideLandingZone,
} from './landing-zone.ts';

/** A file's cheap fingerprint: it changes whenever its bytes may have. */
export function fileFingerprint(info: { size: number; mtimeMs: number }): string {
  return `${info.size}:${Math.trunc(info.mtimeMs)}`;
}

/**
 * A landing zone in a local folder. Each call looks afresh (landing-path.ts), so a folder created
 * after the process started is seen, and a link outside the zone is refused before it is opened.
 */
export function localLandingZone(landingDir: string): LandingZone {
  return {
    locate: (name) => join(landingDir, name),
    list: async (folder) => {
      const names = await readdir(join(landingDir, folder)).catch(() => [] as string[]);
      const look = landingZone(landingDir);
      const found: LandingFileInfo[] = [];
      for (const name of names.sort()) {
        const relative = `${folder}/${name}`;
        const info = describe(relative, await look(relative));
        if (info) found.push(info);
      }
      return found;
    },
    stat: async (name) => describe(name, await landingZone(landingDir)(name)),
    open: async (name) => {
      const entry = await landingZone(landingDir)(name);
      if (entry.kind === 'outside') throw new OutsideLandingZone(name);
      if (entry.kind === 'missing') throw new LandingFileMissing(name, join(landingDir, name));
      return {
        size: entry.info.size,
        fingerprint: fileFingerprint(entry.info),
        stream: createReadStream(entry.path, { highWaterMark: 1 << 20 }),
      };
    },
  };
}

/**
 * A link outside the zone is described by the link's own stat, so it shows (and its load fails,
 * saying why) without anything reading its target.
 */
function describe(name: string, entry: LandingEntry): LandingFileInfo | undefined {
  if (entry.kind === 'missing') return undefined;
  const fingerprint = fileFingerprint(entry.info);
  return {
    name,
    fingerprint: entry.kind === 'outside' ? `outside:${fingerprint}` : fingerprint,
    modifiedAt: new Date(entry.info.mtimeMs),
  };
}
