import { setFlagsFromString } from 'node:v8';
import type { Command } from 'commander';
import { isS3Url } from '../../assets/landing/s3-location.ts';
import type { LandingOutput } from '../../data-generation/landing-zone.ts';
import { Interrupted, PipelineError } from '../../engine/errors.ts';
import { lastCompleteMonth, monthKey, parseMonth } from '../../engine/months.ts';
import { wholeNumber } from '../options.ts';

type GenerateFlags = { out: string; customers: number; months: number; end?: string; seed: number };

export function registerGenerate(program: Command): void {
  program
    .command('generate')
    .description(
      'write a deterministic landing zone: channels.csv, customers/YYYY-MM.csv, traffic/YYYY-MM.csv',
    )
    .requiredOption(
      '--out <dir|s3://bucket/prefix>',
      'folder to write (created, or an earlier landing zone replaced), or a bucket prefix to upload to',
    )
    .option('--customers <n>', 'customers in the simulated CRM', wholeNumber('customers', 1, 5_000_000), 1000)
    .option('--months <n>', 'months of drops', wholeNumber('months', 1, 600), 24)
    .option('--end <YYYY-MM>', 'last month (default: the last complete month, UTC)')
    .option('--seed <n>', 'random seed: same arguments, same bytes', wholeNumber('seed', 0, 2 ** 31 - 1), 42)
    .action(generate);
}

async function generate(flags: GenerateFlags): Promise<void> {
  // Memory over speed for this verb: without it faker's short-lived garbage lifts the peak RSS from
  // ~120 MB to ~185 MB (measured, 11 000 customers), for ~25 % speed the generator does not need.
  setFlagsFromString('--optimize-for-size');
  const end = flags.end === undefined ? lastCompleteMonth() : parseMonth(flags.end, '--end');
  // Imported here: other verbs should not pay for faker and the generator.
  const { generateLandingZone } = await import('../../data-generation/landing-zone.ts');
  const { SingleBar } = await import('cli-progress');
  const bar = process.stderr.isTTY
    ? new SingleBar({
        format: 'generating {bar} {value}/{total} months | {month} | {rows} traffic rows',
        stream: process.stderr,
        hideCursor: true,
      })
    : undefined;
  const target = isS3Url(flags.out) ? await bucketTarget(flags.out) : await folderTarget(flags.out);
  // Ctrl-C stops between months and removes the partial output rather than dying mid-file.
  const interrupt = new AbortController();
  const onSignal = () => interrupt.abort(new Interrupted(`generate interrupted: ${target.leftOnFailure}`));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  bar?.start(flags.months, 0, { month: monthKey(end - flags.months + 1), rows: 0 });
  try {
    const summary = await generateLandingZone(target.output, {
      customers: flags.customers,
      months: flags.months,
      end,
      seed: flags.seed,
      signal: interrupt.signal,
      onProgress: (p) =>
        bar?.update(p.monthsDone, { month: p.month, rows: p.trafficRows.toLocaleString('en-US') }),
    });
    bar?.stop();
    console.log(
      `wrote ${summary.files} files, ${summary.rows.toLocaleString('en-US')} rows ` +
        `(${summary.trafficRows.toLocaleString('en-US')} traffic), ${(summary.bytes / 1e6).toFixed(1)} MB ` +
        `in ${summary.seconds.toFixed(2)} s (peak RSS ${peakRssMegabytes()} MB) to ${summary.out}`,
    );
  } catch (error) {
    throw target.explain(error);
  } finally {
    bar?.stop();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

type Target = {
  output: LandingOutput;
  /** What a failure or Ctrl-C leaves behind, for its message. */
  leftOnFailure: string;
  /** The error as the user should read it. */
  explain: (error: unknown) => unknown;
};

async function folderTarget(out: string): Promise<Target> {
  const { localOutput } = await import('../../data-generation/local-output.ts');
  return { output: localOutput(out), leftOnFailure: 'nothing was written', explain: (error) => error };
}

/** Imported only for s3:// (the AWS SDK takes a while to load, and the folder path is benchmarked). */
async function bucketTarget(out: string): Promise<Target> {
  const { parseS3Url, objectUrl } = await import('../../assets/landing/s3-location.ts');
  const { createS3Client, endpointName } = await import('../../assets/landing/s3-client.ts');
  const { s3ServiceError } = await import('../../assets/landing/s3-errors.ts');
  const { s3Output } = await import('../../data-generation/s3-output.ts');
  const { loadConfig } = await import('../config.ts');
  const location = parseS3Url(out, '--out');
  const options = loadConfig().s3;
  const target = { bucket: location.bucket, endpoint: endpointName(options), url: objectUrl(location, '') };
  // Our own errors (a refused prefix, Ctrl-C) as they are; the SDK's as one line without secrets.
  const explain = (error: unknown) =>
    error instanceof PipelineError ? error : s3ServiceError(error, target);
  try {
    const output = await s3Output(createS3Client(options), location);
    return { output, leftOnFailure: `${out} may hold part of the drop: run generate again`, explain };
  } catch (error) {
    throw explain(error);
  }
}

/** Peak resident set size of this process so far, in MB: the generator's memory budget. */
function peakRssMegabytes(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}
