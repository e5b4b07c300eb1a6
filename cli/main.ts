import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { PipelineError } from '../engine/errors.ts';
import { printable } from '../engine/format.ts';
import { registerAssets } from './commands/assets.ts';
import { registerCancel } from './commands/cancel.ts';
import { registerDashboard } from './commands/dashboard.ts';
import { registerDemo } from './commands/demo.ts';
import { registerDoctor } from './commands/doctor.ts';
import { registerGenerate } from './commands/generate.ts';
import { registerMaterialize } from './commands/materialize.ts';
import { registerMigrate } from './commands/migrate.ts';
import { registerRetry } from './commands/retry.ts';
import { registerRuns } from './commands/runs.ts';
import { registerSchedule } from './commands/schedule.ts';
import { registerSensor } from './commands/sensor.ts';
import { registerStatus } from './commands/status.ts';
import { registerWorker } from './commands/worker.ts';
import { withServiceHint } from './service-hints.ts';

/** The version in package.json, read once (no JSON import: it would cost a module load). */
function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return manifest.version;
}

const program = new Command('pipeline')
  .description('A Dagster-style data asset pipeline on BullMQ and PostgreSQL')
  .version(packageVersion(), '-V, --version', 'print the version and exit')
  .showHelpAfterError('(run `pipeline --help` for usage)')
  .exitOverride();

registerGenerate(program);
registerMigrate(program);
registerAssets(program);
registerMaterialize(program);
registerRetry(program);
registerCancel(program);
registerStatus(program);
registerRuns(program);
registerWorker(program);
registerSchedule(program);
registerSensor(program);
registerDashboard(program);
registerDemo(program);
registerDoctor(program);

// `pipeline runs | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.exitCode = reportError(error);
}

/**
 * Known failures are one line on stderr and a meaningful exit code; anything else is a bug with
 * its stack. Either may quote data (a selection, a file's value): printed without control characters.
 */
function reportError(error: unknown): number {
  if (error instanceof CommanderError) {
    // Commander already printed the message (or the help/version, which exit 0).
    return error.exitCode === 0 ? 0 : 2;
  }
  if (error instanceof PipelineError) {
    process.stderr.write(`pipeline: ${printable(withServiceHint(error))}\n`);
    return error.exitCode;
  }
  const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`pipeline: unexpected error: ${printable(detail)}\n`);
  return 1;
}
