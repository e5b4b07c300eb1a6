import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { DeleteObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { objectKey, objectUrl, type S3Location } from '../assets/landing/s3-location.ts';
import { UsageError } from '../engine/errors.ts';
import type { Sink } from './file-writer.ts';
import type { LandingOutput } from './landing-zone.ts';

/** S3's smallest part: an object larger than this goes up as a multipart upload. */
export const PART_SIZE = 5 * 1024 * 1024;
/** Parts of one object in flight at once, and objects uploading at once while the next is generated. */
const PARTS_IN_FLIGHT = 4;
const OBJECTS_IN_FLIGHT = 2;
/** What a sink buffers before it tells the generator to wait (a part's worth, so parts stay full). */
const SINK_HIGH_WATER_MARK = PART_SIZE;

const LANDING_NAME = /^(channels\.csv|customers\/[^/]+|traffic\/[^/]+)$/;

type Pending = { name: string; done: Promise<unknown>; abort: () => Promise<void> };

/**
 * A landing zone uploaded to `s3://bucket/prefix`, each file streamed into an upload as it is
 * generated (multipart above PART_SIZE; nothing staged on disk). The prefix must be empty or hold
 * a landing zone; what an earlier drop had and this one does not write is deleted on commit.
 * Object storage has no rename: a failure aborts the uploads in flight, but objects already
 * complete stay (`partial` says so).
 */
export async function s3Output(client: S3Client, location: S3Location): Promise<LandingOutput> {
  const earlier = await landingNames(client, location);
  const written = new Set<string>();
  const pending: Pending[] = [];
  const settle = async (count: number) => {
    const batch = pending.splice(0, count);
    await Promise.all(batch.map((upload) => upload.done));
  };
  return {
    name: objectUrl(location, '').replace(/\/$/, ''),
    async open(name) {
      if (pending.length >= OBJECTS_IN_FLIGHT) await settle(1);
      written.add(name);
      const upload = startUpload(client, location, name);
      pending.push(upload.pending);
      return upload.sink;
    },
    async commit() {
      await settle(pending.length);
      for (const name of earlier) {
        if (written.has(name)) continue;
        await client.send(
          new DeleteObjectCommand({ Bucket: location.bucket, Key: objectKey(location, name) }),
        );
      }
    },
    async discard() {
      const aborting = pending.splice(0);
      await Promise.allSettled(aborting.map((upload) => upload.abort()));
    },
  };
}

function startUpload(client: S3Client, location: S3Location, name: string): { sink: Sink; pending: Pending } {
  const body = new PassThrough({ highWaterMark: SINK_HIGH_WATER_MARK });
  const upload = new Upload({
    client,
    params: { Bucket: location.bucket, Key: objectKey(location, name), Body: body, ContentType: 'text/csv' },
    partSize: PART_SIZE,
    queueSize: PARTS_IN_FLIGHT,
    leavePartsOnError: false,
  });
  // A failure is reported once, by `done` (awaited on commit or when the next file opens); the
  // stream itself must neither hold on to data nor throw its own 'error' event.
  body.on('error', () => {});
  const done = upload.done();
  done.catch(() => body.destroy());
  const failed = done.then(() => {}); // for drained(): rejects with the upload's error
  failed.catch(() => {});
  return {
    sink: {
      // The writer reuses its buffer: the stream keeps a copy.
      write: (data) => body.write(Buffer.from(data)),
      drained: () => Promise.race([once(body, 'drain').then(() => {}), failed]),
      end: () => body.end(),
    },
    pending: {
      name,
      done,
      abort: async () => {
        await upload.abort();
        await done.catch(() => {});
      },
    },
  };
}

/** The landing files already under the prefix; anything else there refuses the prefix. */
async function landingNames(client: S3Client, location: S3Location): Promise<string[]> {
  const base = location.prefix ? `${location.prefix}/` : '';
  const names: string[] = [];
  const foreign: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: location.bucket, Prefix: base, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) {
      const name = (object.Key ?? '').slice(base.length);
      (LANDING_NAME.test(name) ? names : foreign).push(name);
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  if (foreign.length > 0) {
    throw new UsageError(
      `--out ${objectUrl(location, '')} is not empty and not a landing zone (it holds ${foreign.slice(0, 3).join(', ')}): choose an empty or new prefix`,
    );
  }
  return names;
}
