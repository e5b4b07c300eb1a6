import { ServiceUnreachableError } from '../../engine/errors.ts';

/** What an S3 failure is about: the bucket, the endpoint, and the object when there is one. */
export type S3Target = { bucket: string; endpoint: string; url: string };

type SdkError = { name?: string; Code?: string; code?: string; $metadata?: { httpStatusCode?: number } };

/** The connection was there and went away (rather than never being made). */
const BROKEN = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'aborted']);

const DENIED = new Set(['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken']);

/** The S3 error code or the socket's (ECONNREFUSED), never the service's text: it may quote a signature. */
export function s3ErrorCode(error: unknown): string {
  const e = error as SdkError;
  return String(e?.Code ?? e?.code ?? e?.name ?? 'error');
}

/** An HTTP status from S3 (absent when no answer came: a connection problem). */
export function s3Status(error: unknown): number | undefined {
  return (error as SdkError)?.$metadata?.httpStatusCode;
}

/**
 * A failure of the store rather than of the data, as one line naming the bucket and endpoint and
 * nothing secret: retryable (a bucket being created, a policy being fixed, a store restarting).
 */
export function s3ServiceError(error: unknown, target: S3Target): ServiceUnreachableError {
  const code = s3ErrorCode(error);
  const status = s3Status(error);
  const at = `at ${target.endpoint}`;
  if (code === 'NoSuchBucket') {
    return new ServiceUnreachableError(`${target.url}: no such bucket '${target.bucket}' ${at}`, {
      service: 's3',
    });
  }
  if (status === 403 || DENIED.has(code)) {
    return new ServiceUnreachableError(
      `${target.url}: access denied to bucket '${target.bucket}' ${at} (${code}; check the AWS credentials)`,
      { service: 's3', problem: 'credentials' },
    );
  }
  if (status === undefined && BROKEN.has(code)) return brokenReadError(target, code);
  if (status === undefined) {
    return new ServiceUnreachableError(
      `${target.url}: cannot reach ${target.endpoint} for bucket '${target.bucket}' (${code})`,
      { service: 's3', problem: 'unreachable' },
    );
  }
  return new ServiceUnreachableError(`${target.url}: S3 answered ${status} ${code} ${at}`, { service: 's3' });
}

/** The connection ended before the object's last byte: retryable, and the load rolls back. */
export function brokenReadError(target: S3Target, detail: string): ServiceUnreachableError {
  return new ServiceUnreachableError(
    `${target.url}: the connection to ${target.endpoint} broke while reading the object (${detail})`,
    { service: 's3', problem: 'unreachable' },
  );
}
