import type { PipelineConfig } from '../../assets/config.ts';
import type { AssetMetadata } from '../../engine/asset.ts';
import type { AssetGraph } from '../../engine/graph.ts';
import { nodeId, type RunPlan } from '../../engine/plan.ts';
import type { CheckResultRow, RunNodeRow, RunStore } from '../../engine/run-store.ts';
import { connectQueues } from '../../queues/queues.ts';
import { startQueuedRun } from '../../queues/runs.ts';
import type { Config as CliConfig } from '../config.ts';
import { followRun } from '../follow-run.ts';
import { printEvent, printRunEnd, summaryOf } from '../run-output.ts';
import { withRunStore } from '../services.ts';

/**
 * `materialize` through the workers: the run is recorded and its first nodes enqueued; then,
 * unless --no-wait, the CLI follows the run in Postgres and prints each node as it settles.
 * Ctrl-C stops following, not the run.
 */
export async function materializeOnWorkers(options: {
  config: CliConfig;
  graph: AssetGraph<PipelineConfig>;
  plan: RunPlan;
  selection: string;
  wait: boolean;
  allowBadRows: number;
}): Promise<void> {
  const { config, plan } = options;
  const queues = await connectQueues(config.redisUrl, config.queuePrefix);
  try {
    await withRunStore(async (store, database) => {
      const started = performance.now();
      const runId = await startQueuedRun({
        store,
        queue: queues.assets,
        graph: options.graph,
        plan,
        trigger: 'cli',
        selection: options.selection,
        config: { allowBadRows: options.allowBadRows },
      });
      const partitions =
        plan.partitions.length > 0 ? `, partitions ${plan.partitions[0]}..${plan.partitions.at(-1)}` : '';
      console.log(
        `run ${runId}: ${plan.nodes.length} nodes queued (selection '${options.selection}'${partitions})`,
      );
      if (!options.wait) return;
      if ((await queues.assets.getWorkers()).length === 0) {
        console.log(
          '  no worker is running yet: start one with `npx pipeline worker` (Ctrl-C stops waiting)',
        );
      }
      const status = await follow(store, runId);
      if (status === 'interrupted') {
        console.log(`stopped waiting; the run goes on: \`npx pipeline run ${runId.slice(0, 8)}\` shows it`);
        process.exitCode = 130;
        return;
      }
      const detail = await store.getRun(runId);
      const count = (wanted: string) => detail?.nodes.filter((node) => node.status === wanted).length ?? 0;
      const result = {
        status,
        succeeded: count('succeeded'),
        failed: count('failed'),
        skipped: count('skipped'),
        pending: count('pending') + count('queued'),
      };
      const summary = status === 'succeeded' ? await summaryOf(plan, database) : [];
      printRunEnd(runId, result, performance.now() - started, summary);
      if (status !== 'succeeded') process.exitCode = 1;
    });
  } finally {
    await queues.close();
  }
}

/** Prints each node as it succeeds or fails, until the run ends or Ctrl-C. */
async function follow(store: RunStore, runId: string): Promise<string> {
  const interrupt = new AbortController();
  const onSignal = () => interrupt.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const shown = new Map<string, string>();
  try {
    return await followRun(
      store,
      runId,
      (detail) => {
        for (const node of detail.nodes) showNode(node, shown, detail.checks);
      },
      interrupt.signal,
    );
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

function showNode(node: RunNodeRow, shown: Map<string, string>, checks: CheckResultRow[]): void {
  const id = nodeId(node.assetKey, node.partitionKey);
  // A retrying node is back in `queued` with its error: show each attempt's failure once.
  const state = node.status === 'queued' && node.error ? `retry:${node.error}` : node.status;
  if (shown.get(id) === state) return;
  shown.set(id, state);
  const planNode = { id, assetKey: node.assetKey, partitionKey: node.partitionKey, upstream: node.upstream };
  const nodeChecks = checks
    .filter((c) => c.assetKey === node.assetKey && c.partitionKey === node.partitionKey)
    .map((c) => ({
      name: c.checkName,
      severity: c.severity as 'error' | 'warn',
      passed: c.passed,
      message: c.message ?? undefined,
    }));
  if (node.status === 'succeeded') {
    printEvent({
      type: 'succeeded',
      node: planNode,
      durationMs: node.durationMs ?? 0,
      metadata: node.metadata as AssetMetadata,
      checks: nodeChecks,
    });
  } else if (node.status === 'failed') {
    printEvent({
      type: 'failed',
      node: planNode,
      durationMs: node.durationMs ?? 0,
      reason: node.error ?? 'failed',
      checks: nodeChecks,
    });
  } else if (state.startsWith('retry:')) {
    console.log(`  ↻ ${id}  ${node.error}`);
  }
}
