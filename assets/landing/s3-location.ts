import { ConfigError } from '../../engine/errors.ts';

/**
 * A landing zone (or a `generate --out`) in object storage: `s3://BUCKET/PREFIX`. The bucket and
 * the key prefix every landing file's name is appended to (`PREFIX/traffic/2026-10.csv`).
 */
export type S3Location = { bucket: string; prefix: string };

const S3_URL = /^s3:\/\/([^/]+)(?:\/(.*))?$/;

export function isS3Url(value: string): boolean {
  return value.startsWith('s3://');
}

/** Parses `s3://BUCKET[/PREFIX]`; a malformed one is a ConfigError naming `what`. */
export function parseS3Url(value: string, what = 'LANDING_DIR'): S3Location {
  const match = S3_URL.exec(value);
  const bucket = match?.[1];
  // Bucket names: 3–63 lower-case letters, digits, dots and hyphens (S3's rules, loosely).
  if (!bucket || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new ConfigError(`${what} '${value}' is not an s3://BUCKET/PREFIX URL with a valid bucket name`);
  }
  const prefix = (match?.[2] ?? '').replace(/^\/+|\/+$/g, '');
  return { bucket, prefix };
}

/** The object key of a landing file's name (`traffic/2026-10.csv`) under the location's prefix. */
export function objectKey(location: S3Location, name: string): string {
  return location.prefix ? `${location.prefix}/${name}` : name;
}

/** How people name an object: `s3://bucket/prefix/traffic/2026-10.csv`. */
export function objectUrl(location: S3Location, name: string): string {
  return `s3://${location.bucket}/${objectKey(location, name)}`;
}
