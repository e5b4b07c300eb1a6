import { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { type LandingFileInfo, LandingFileMissing, type LandingZone } from './landing-zone.ts';
import { createS3Client, endpointName, type S3Options } from './s3-client.ts';
import { brokenReadError, type S3Target, s3ErrorCode, s3ServiceError, s3Status } from './s3-errors.ts';
import { objectKey, objectUrl, parseS3Url } from './s3-location.ts';

/** Size and ETag: the ETag changes with the bytes, and a listing, a HEAD and a GET all give both. */
function objectFingerprint(size: number | undefined, etag: string | undefined): string {
  return `${size ?? 0}:${(etag ?? '').replaceAll('"', '')}`;
}

/**
 * A landing zone in a bucket (`s3://BUCKET/PREFIX`): a folder is a ListObjectsV2 (paginated), a
 * look is a HeadObject, a read one GetObject whose body streams straight into the load.
 */
export function s3LandingZone(landingUrl: string, options: S3Options): LandingZone {
  const location = parseS3Url(landingUrl);
  const client = createS3Client(options);
  const target = (name: string): S3Target => ({
    bucket: location.bucket,
    endpoint: endpointName(options),
    url: objectUrl(location, name),
  });
  return {
    locate: (name) => objectUrl(location, name),
    list: async (folder) => {
      const base = objectKey(location, '');
      const found: LandingFileInfo[] = [];
      let token: string | undefined;
      do {
        const page = await client
          .send(
            new ListObjectsV2Command({
              Bucket: location.bucket,
              Prefix: objectKey(location, `${folder}/`),
              Delimiter: '/',
              ContinuationToken: token,
            }),
          )
          .catch((error: unknown) => {
            throw s3ServiceError(error, target(`${folder}/`));
          });
        for (const object of page.Contents ?? []) {
          if (object.Key) {
            found.push({
              name: object.Key.slice(base.length),
              fingerprint: objectFingerprint(object.Size, object.ETag),
            });
          }
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return found.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },
    stat: async (name) => {
      try {
        const head = await client.send(
          new HeadObjectCommand({ Bucket: location.bucket, Key: objectKey(location, name) }),
        );
        return { name, fingerprint: objectFingerprint(head.ContentLength, head.ETag) };
      } catch (error) {
        // A HEAD has no body to tell a missing bucket from a missing key: either way, no file.
        if (s3Status(error) === 404) return undefined;
        throw s3ServiceError(error, target(name));
      }
    },
    open: async (name) => {
      try {
        const object = await client.send(
          new GetObjectCommand({ Bucket: location.bucket, Key: objectKey(location, name) }),
        );
        const size = object.ContentLength ?? 0;
        return {
          size,
          fingerprint: objectFingerprint(size, object.ETag),
          stream: Readable.from(whole(object.Body as Readable, size, target(name)), {
            objectMode: false,
            highWaterMark: 1 << 20,
          }),
        };
      } catch (error) {
        if (s3ErrorCode(error) === 'NoSuchKey') throw new LandingFileMissing(name, objectUrl(location, name));
        throw s3ServiceError(error, target(name));
      }
    },
  };
}

/**
 * The body's bytes, failing (retryably) unless all `size` of them arrive: a connection that breaks
 * mid-object may end the body early without an error of its own, and a short file must not load.
 */
async function* whole(body: Readable, size: number, target: S3Target): AsyncGenerator<Buffer> {
  let seen = 0;
  try {
    for await (const chunk of body) {
      seen += (chunk as Buffer).length;
      yield chunk as Buffer;
    }
  } catch (error) {
    throw brokenReadError(target, `${s3ErrorCode(error)} after ${seen} of ${size} bytes`);
  }
  if (seen !== size) throw brokenReadError(target, `ended after ${seen} of ${size} bytes`);
}
