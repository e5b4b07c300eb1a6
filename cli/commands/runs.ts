import type { Command } from 'commander';
import { UsageError } from '../../engine/errors.ts';
import { formatDuration, formatMetadata, formatTime, table } from '../../engine/format.ts';
import { idOf } from '../../engine/node.ts';
import { wholeNumber } from '../options.ts';
import { say } from '../print.ts';
import { resolveRunId, withRuns } from '../services.ts';

const elapsed = (start: Date | null, end: Date | null) =>
  start && end ? end.getTime() - start.getTime() : null;

export function registerRuns(program: Command): void {
  program
    .command('runs')
    .description('run history, newest first')
    .option('--limit <n>', 'how many runs', wholeNumber('limit', 1, 10_000), 20)
    .option('--json', 'machine-readable output')
    .action(async (flags: { limit: number; json?: boolean }) => {
      const runs = await withRuns(({ history }) => history.listRuns(flags.limit));
      if (flags.json) {
        console.log(JSON.stringify(runs, null, 2));
        return;
      }
      if (runs.length === 0) {
        say('no runs yet');
        return;
      }
      say(
        table(
          ['RUN', 'STATUS', 'TRIGGER', 'SELECTION', 'PARTITIONS', 'CREATED', 'DURATION', 'NODES'],
          runs.map((run) => [
            run.id.slice(0, 8),
            run.status,
            run.trigger,
            run.selection,
            run.partitionFrom ? `${run.partitionFrom}..${run.partitionTo}` : '—',
            formatTime(run.createdAt),
            formatDuration(elapsed(run.startedAt, run.finishedAt)),
            Object.entries(run.nodeCounts)
              .map(([status, n]) => `${n} ${status}`)
              .join(', '),
          ]),
        ),
      );
    });

  program
    .command('run')
    .description('one run: per-node status, timings, metadata, errors and check results')
    .argument('<id>', 'run id (or its first characters)')
    .option('--json', 'machine-readable output')
    .action(async (id: string, flags: { json?: boolean }) => {
      const detail = await withRuns(async ({ history }) => history.getRun(await resolveRunId(history, id)));
      if (!detail) throw new UsageError(`no run ${id}`);
      if (flags.json) {
        console.log(JSON.stringify(detail, null, 2));
        return;
      }
      const { run, nodes, attempts, checks } = detail;
      say(`run ${run.id}  ${run.status}`);
      say(`  trigger ${run.trigger}, executor ${run.executor}, selection '${run.selection}'`);
      if (run.partitionFrom) say(`  partitions ${run.partitionFrom}..${run.partitionTo}`);
      say(
        `  created ${formatTime(run.createdAt)}, started ${formatTime(run.startedAt)}, finished ${formatTime(run.finishedAt)}` +
          ` (${formatDuration(elapsed(run.startedAt, run.finishedAt))})`,
      );
      if (run.error) say(`  error: ${run.error}`);
      say('');
      say(
        table(
          ['NODE', 'STATUS', 'ATTEMPTS', 'DURATION', 'METADATA'],
          nodes.map((node) => [
            idOf(node),
            node.status,
            String(node.attempts),
            formatDuration(node.durationMs),
            formatMetadata(node.metadata),
          ]),
        ),
      );
      const errors = nodes.filter((node) => node.status === 'failed' && node.error);
      if (errors.length > 0) {
        say('\nerrors:');
        for (const node of errors) say(`  ${idOf(node)}: ${node.error}`);
      }
      // Every attempt that did not succeed, in order, so a retry never hides the first error.
      const earlier = attempts.filter(
        (attempt) => !['succeeded', 'skipped', 'running'].includes(attempt.status),
      );
      if (earlier.length > 0) {
        say('\nattempts that did not succeed:');
        for (const attempt of earlier) {
          say(
            `  ${idOf(attempt)} attempt ${attempt.attempt} ${attempt.status} at ${formatTime(attempt.finishedAt)}: ${attempt.error ?? ''}`,
          );
        }
      }
      if (checks.length > 0) {
        say('\nchecks:');
        for (const check of checks) {
          const where = idOf(check);
          const verdict = check.passed ? 'passed' : 'FAILED';
          say(
            `  ${where} ${check.checkName} (${check.severity}) ${verdict}${check.message ? `: ${check.message}` : ''}`,
          );
        }
      }
    });
}
