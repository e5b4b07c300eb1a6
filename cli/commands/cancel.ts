import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { idOf } from '../../engine/node.ts';
import { resolveRunId, withRuns } from '../services.ts';

/** How long `cancel` waits for running nodes to be aborted by their executors. */
const WAIT_FOR_RUNNING_MS = 30_000;

export function registerCancel(program: Command): void {
  program
    .command('cancel')
    .description('cancel a run: pending and queued nodes are canceled, running ones aborted and rolled back')
    .argument('<run>', 'run id (or its first characters)')
    .action(async (id: string) => {
      await withRuns(async ({ store, history }) => {
        const runId = await resolveRunId(history, id);
        const { running } = await store.cancel(runId, 'canceled from the command line');
        console.log(`run ${runId} canceled`);
        if (running === 0) return;
        console.log(
          `  ${running} running node${running === 1 ? '' : 's'} being aborted by ${running === 1 ? 'its executor' : 'their executors'} …`,
        );
        const deadline = Date.now() + WAIT_FOR_RUNNING_MS;
        for (;;) {
          // A lost in-process executor's nodes are settled by the look that finds it lost.
          await store.reapLostRuns();
          const nodes = (await history.getRun(runId))?.nodes ?? [];
          const still = nodes.filter((node) => node.status === 'running');
          if (still.length === 0) {
            console.log('  every running node was aborted; their writes were rolled back');
            return;
          }
          if (Date.now() > deadline) {
            console.log(
              `  still running after ${WAIT_FOR_RUNNING_MS / 1000} s: ${still.map(idOf).join(', ')} ` +
                '(their executors abort them when they next look; a node whose executor died is settled when its lease passes, or when another worker takes its job up)',
            );
            return;
          }
          await sleep(250);
        }
      });
    });
}
