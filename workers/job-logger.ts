import type { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { type DestinationStream, type Logger, pino } from 'pino';
import { relativeToProject } from './job-errors.ts';

/** Appends lines to a job's log (what Bull Board shows under Logs). */
export type JobLogSink = (jobId: string, lines: string[]) => Promise<void>;

/**
 * All of a job's lines in one Redis command (job.log() costs a script call per line): BullMQ keeps
 * a job's log as the list `<job key>:logs`, which getJobLogs and Bull Board read.
 */
export function jobLogSink(queue: Queue, redis: Redis): JobLogSink {
  return async (jobId, lines) => {
    if (lines.length > 0) await redis.rpush(`${queue.toKey(jobId)}:logs`, ...lines);
  };
}

export type JobLog = {
  logger: Logger;
  /** Writes the lines logged so far to the job's log in Redis (all at once); never throws. */
  flush: () => Promise<void>;
};

/**
 * A logger for one job: every line goes to the worker's own output at once and, as readable text,
 * to the job's log in Redis, where Bull Board shows it next to the job. The job's copies are
 * buffered and written together when the job ends (flush), off the node's own path.
 */
export function jobLog(
  job: Job,
  level: Logger['level'],
  output: DestinationStream,
  sink: JobLogSink,
): JobLog {
  const pending: string[] = [];
  const toJob: DestinationStream = {
    write(line: string) {
      const { msg, level: _level, time, ...rest } = JSON.parse(line) as Record<string, unknown>;
      const fields = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
      // Error stacks among the fields name files relative to the project, as the job's own stack does.
      pending.push(relativeToProject(`${String(time)} ${String(msg)}${fields}`));
    },
  };
  const logger = pino(
    { level, base: { jobId: job.id }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.multistream([
      { level: level as pino.Level, stream: output },
      { level: level as pino.Level, stream: toJob },
    ]),
  );
  const flush = async () => {
    // A line that cannot be stored must not fail the job; flushing twice writes each line once.
    await sink(String(job.id), pending.splice(0)).catch(() => {});
  };
  return { logger, flush };
}
