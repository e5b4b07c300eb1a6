import { S3Client } from '@aws-sdk/client-s3';

/**
 * How the pipeline reaches object storage. Region, credentials and profiles come from the
 * standard AWS configuration (AWS_REGION, AWS_ACCESS_KEY_ID/…, AWS_PROFILE, ~/.aws), which the
 * SDK reads itself; these are what the pipeline adds or needs to name in its messages.
 */
export type S3Options = Readonly<{
  /** AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL: an S3-compatible store (MinIO, s3rver …). */
  endpoint?: string;
  /** S3_FORCE_PATH_STYLE=1: `endpoint/bucket/key` instead of `bucket.endpoint/key`. */
  forcePathStyle: boolean;
  /** AWS_REGION; when absent, the SDK's own lookup (the profile's region). */
  region?: string;
}>;

/** The endpoint as shown in messages: the configured one, or AWS's own. */
export function endpointName(options: S3Options): string {
  return options.endpoint ?? 'the AWS S3 endpoint';
}

/** S3's own default region, for an endpoint that ignores regions (MinIO, s3rver) or a global bucket. */
export const DEFAULT_REGION = 'us-east-1';

/**
 * The SDK's own region lookup (AWS_REGION, then the profile's `region`), falling back to
 * DEFAULT_REGION instead of failing every request with "Region is missing".
 */
function regionOrDefault(): () => Promise<string> {
  const lookup = new S3Client({}).config.region;
  return () => lookup().catch(() => DEFAULT_REGION);
}

export function createS3Client(options: S3Options): S3Client {
  // The SDK warns, in several lines on stderr, that its releases after January 2027 will need
  // Node 22; this package supports Node ≥ 20.19 with the release it pins, and keeps errors one line.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return new S3Client({
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    forcePathStyle: options.forcePathStyle,
    region: options.region ?? regionOrDefault(),
    // Newer SDKs add checksums to every request and check them on every answer; S3-compatible
    // stores do not all speak that yet. S3 itself needs them only where an operation requires it.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}
