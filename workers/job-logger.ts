import type { Job } from 'bullmq';
import { type DestinationStream, type Logger, pino } from 'pino';

/**
 * A logger for one job: every line goes to the worker's own output and, as readable text, to the
 * job's log in Redis, where Bull Board shows it next to the job.
 */
export function jobLogger(job: Job, level: Logger['level'], output: DestinationStream): Logger {
  const toJob: DestinationStream = {
    write(line: string) {
      const { msg, level: _level, time, ...rest } = JSON.parse(line) as Record<string, unknown>;
      const fields = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
      // A log line that cannot be stored must not fail the job.
      job.log(`${String(time)} ${String(msg)}${fields}`).catch(() => {});
    },
  };
  return pino(
    { level, base: { jobId: job.id }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.multistream([
      { level: level as pino.Level, stream: output },
      { level: level as pino.Level, stream: toJob },
    ]),
  );
}
