import type { Command } from 'commander';
import { UsageError } from '../../engine/errors.ts';
import { nodeId } from '../../engine/plan.ts';
import { formatDuration, formatMetadata, formatTime, table } from '../format.ts';
import { wholeNumber } from '../options.ts';
import { withRunStore } from '../services.ts';

const elapsed = (start: Date | null, end: Date | null) =>
  start && end ? end.getTime() - start.getTime() : null;

export function registerRuns(program: Command): void {
  program
    .command('runs')
    .description('run history, newest first')
    .option('--limit <n>', 'how many runs', wholeNumber('limit', 1, 10_000), 20)
    .option('--json', 'machine-readable output')
    .action(async (flags: { limit: number; json?: boolean }) => {
      const runs = await withRunStore((store) => store.listRuns(flags.limit));
      if (flags.json) {
        console.log(JSON.stringify(runs, null, 2));
        return;
      }
      if (runs.length === 0) {
        console.log('no runs yet');
        return;
      }
      console.log(
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
      if (id.trim() === '')
        throw new UsageError('give a run id (or its first characters): see `pipeline runs`');
      const detail = await withRunStore(async (store) => {
        const matches = await store.findRunIds(id);
        if (matches.length === 0) throw new UsageError(`no run ${id}: see \`pipeline runs\``);
        if (matches.length > 1) throw new UsageError(`run id ${id} is ambiguous: give more characters`);
        return store.getRun(matches[0] as string);
      });
      if (!detail) throw new UsageError(`no run ${id}`);
      if (flags.json) {
        console.log(JSON.stringify(detail, null, 2));
        return;
      }
      const { run, nodes, checks } = detail;
      console.log(`run ${run.id}  ${run.status}`);
      console.log(`  trigger ${run.trigger}, executor ${run.executor}, selection '${run.selection}'`);
      if (run.partitionFrom) console.log(`  partitions ${run.partitionFrom}..${run.partitionTo}`);
      console.log(
        `  created ${formatTime(run.createdAt)}, started ${formatTime(run.startedAt)}, finished ${formatTime(run.finishedAt)}` +
          ` (${formatDuration(elapsed(run.startedAt, run.finishedAt))})`,
      );
      if (run.error) console.log(`  error: ${run.error}`);
      console.log('');
      console.log(
        table(
          ['NODE', 'STATUS', 'ATTEMPTS', 'DURATION', 'METADATA'],
          nodes.map((node) => [
            nodeId(node.assetKey, node.partitionKey),
            node.status,
            String(node.attempts),
            formatDuration(node.durationMs),
            formatMetadata(node.metadata),
          ]),
        ),
      );
      for (const [title, status] of [
        ['errors', 'failed'],
        ['skipped', 'skipped'],
      ] as const) {
        const listed = nodes.filter((node) => node.status === status && node.error);
        if (listed.length === 0) continue;
        console.log(`\n${title}:`);
        for (const node of listed)
          console.log(`  ${nodeId(node.assetKey, node.partitionKey)}: ${node.error}`);
      }
      if (checks.length > 0) {
        console.log('\nchecks:');
        for (const check of checks) {
          const where = nodeId(check.assetKey, check.partitionKey);
          const verdict = check.passed ? 'passed' : 'FAILED';
          console.log(
            `  ${where} ${check.checkName} (${check.severity}) ${verdict}${check.message ? `: ${check.message}` : ''}`,
          );
        }
      }
    });
}
