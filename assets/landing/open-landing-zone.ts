import type { PipelineConfig } from '../config.ts';
import type { LandingZone } from './landing-zone.ts';
import { localLandingZone } from './local-landing-zone.ts';
import { s3LandingZone } from './s3-landing-zone.ts';
import { isS3Url } from './s3-location.ts';

/** One S3 zone (one client, its connection pool) per landing URL and options, for the process. */
const s3Zones = new Map<string, LandingZone>();

/** The landing zone LANDING_DIR names: `s3://BUCKET/PREFIX` in a bucket, anything else a folder. */
export function openLandingZone(config: Pick<PipelineConfig, 'landingDir' | 's3'>): LandingZone {
  if (!isS3Url(config.landingDir)) return localLandingZone(config.landingDir);
  const options = config.s3 ?? { forcePathStyle: false };
  const key = JSON.stringify([config.landingDir, options]);
  let zone = s3Zones.get(key);
  if (!zone) {
    zone = s3LandingZone(config.landingDir, options);
    s3Zones.set(key, zone);
  }
  return zone;
}
