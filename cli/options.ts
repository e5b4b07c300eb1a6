import type { Command } from 'commander';
import { UsageError } from '../engine/errors.ts';

/** A commander argument parser for a whole-number flag, with one clear error for anything else. */
export function wholeNumber(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!/^\d+$/.test(value) || parsed < min || parsed > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
      throw new UsageError(`--${name} must be a whole number ${range}, got '${value}'`);
    }
    return parsed;
  };
}

/** Where a run executes: `--in-process` (here, no Redis) or on the workers (`--no-wait` to return at once). */
export function executionOptions(command: Command): Command {
  return command
    .option('--in-process', 'run here, without Redis or workers')
    .option('--no-wait', 'print the run id and return (with workers)')
    .option(
      '--concurrency <n>',
      'nodes materializing at once (in-process; workers have their own)',
      wholeNumber('concurrency', 1, 32),
      2,
    );
}
