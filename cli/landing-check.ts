import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { openLandingZone } from '../assets/landing/open-landing-zone.ts';
import { createS3Client, endpointName } from '../assets/landing/s3-client.ts';
import { s3ServiceError } from '../assets/landing/s3-errors.ts';
import { isS3Url, objectKey, objectUrl, parseS3Url } from '../assets/landing/s3-location.ts';
import { ServiceUnreachableError } from '../engine/errors.ts';
import type { Config } from './config.ts';

/** A store that neither answers nor refuses must not hang doctor. */
const S3_CHECK_TIMEOUT_MS = 10_000;

/** doctor's landing-zone line: where it is and what it sees; throws (exit 3) when it cannot be read. */
export async function checkLandingZone(config: Pick<Config, 'landingDir' | 's3'>): Promise<string> {
  return isS3Url(config.landingDir) ? checkBucket(config) : checkFolder(config);
}

async function checkFolder(config: Pick<Config, 'landingDir' | 's3'>): Promise<string> {
  const dir = config.landingDir;
  const problem = await stat(dir).then(
    (info) => (info.isDirectory() ? undefined : 'is not a folder'),
    () => 'does not exist',
  );
  const unreadable = problem
    ? undefined
    : await access(dir, constants.R_OK | constants.X_OK).catch(() => 'is not readable');
  const why = problem ?? unreadable;
  if (why) {
    throw new ServiceUnreachableError(
      `landing zone ${dir} ${why}: set LANDING_DIR, or write one with \`npx pipeline generate --out ${dir}\``,
      { service: 'landing' },
    );
  }
  const zone = openLandingZone(config);
  const [customers, traffic, channels] = await Promise.all([
    zone.list('customers'),
    zone.list('traffic'),
    zone.stat('channels.csv'),
  ]);
  const files = customers.length + traffic.length + (channels ? 1 : 0);
  return `${dir} (${files} landing files: ${customers.length} customers, ${traffic.length} traffic${channels ? ', channels.csv' : ', no channels.csv'})`;
}

/** The bucket answers a listing of the prefix (ListObjectsV2, one key: cheap on any bucket). */
async function checkBucket(config: Pick<Config, 'landingDir' | 's3'>): Promise<string> {
  const location = parseS3Url(config.landingDir);
  const client = createS3Client(config.s3);
  try {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: location.bucket, Prefix: objectKey(location, ''), MaxKeys: 1 }),
      { abortSignal: AbortSignal.timeout(S3_CHECK_TIMEOUT_MS) },
    );
    const seen = (page.KeyCount ?? 0) > 0 ? 'objects under the prefix' : 'nothing under the prefix yet';
    return `${config.landingDir} (bucket '${location.bucket}' at ${endpointName(config.s3)} answers; ${seen})`;
  } catch (error) {
    throw s3ServiceError(error, {
      bucket: location.bucket,
      endpoint: endpointName(config.s3),
      url: objectUrl(location, ''),
    });
  } finally {
    client.destroy();
  }
}
